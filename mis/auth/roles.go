package auth

import (
	"sync"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

// Permission is one thing a user may do within an organization.
type Permission string

const (
	PatientRead  Permission = "patient.read"  // demographics and search
	PatientWrite Permission = "patient.write" // create and update patients
	OrderRead    Permission = "order.read"
	OrderWrite   Permission = "order.write" // create, cancel
	ResultRead   Permission = "result.read" // observations, reports, studies
	DeviceAdmin  Permission = "device.admin"
	UserAdmin    Permission = "user.admin" // users and organizations
	AuditRead    Permission = "audit.read"
	// Reconcile: read the reconciliation queue and attach or reject its
	// items. Clinic IT resolves what devices sent; lab staff their results.
	Reconcile Permission = "reconcile"
)

// grants is the role matrix. Clinic IT runs devices and mappings and gets
// no clinical data: under 152-FZ access to personal data follows the job.
var grants = map[domain.Role][]Permission{
	domain.RoleAdmin:     {PatientRead, PatientWrite, OrderRead, OrderWrite, ResultRead, DeviceAdmin, UserAdmin, AuditRead, Reconcile},
	domain.RoleIT:        {DeviceAdmin, AuditRead, Reconcile},
	domain.RoleDoctor:    {PatientRead, OrderRead, OrderWrite, ResultRead},
	domain.RoleLab:       {PatientRead, OrderRead, ResultRead, Reconcile},
	domain.RoleRegistrar: {PatientRead, PatientWrite, OrderRead, OrderWrite},
}

// Grants reports whether role r carries permission p.
func Grants(r domain.Role, p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}

// OrgsWith lists the organizations in which u holds permission p.
func OrgsWith(u *domain.User, p Permission) []int64 {
	var orgs []int64
	for _, m := range u.Memberships {
		for _, r := range m.Roles {
			if Grants(r, p) {
				orgs = append(orgs, m.OrganizationID)
				break
			}
		}
	}
	return orgs
}

// Lockout counts failed logins per login name and refuses further attempts
// for a while after too many; it lives in memory, per instance.
type Lockout struct {
	Max    int
	Period time.Duration

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n     int
	until time.Time
}

// Locked reports whether login is locked out at now.
func (l *Lockout) Locked(login string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[login]
	return f != nil && now.Before(f.until)
}

// Fail records a failed attempt.
func (l *Lockout) Fail(login string, now time.Time) {
	if l.Max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil {
		l.fails = map[string]*failures{}
	}
	f := l.fails[login]
	if f == nil || !f.until.IsZero() && now.After(f.until) {
		f = &failures{}
		l.fails[login] = f
	}
	f.n++
	if f.n >= l.Max {
		f.until = now.Add(l.Period)
	}
	if len(l.fails) > 100_000 { // bound memory under a spray of logins
		for k, v := range l.fails {
			if now.After(v.until) {
				delete(l.fails, k)
			}
		}
	}
}

// Succeed clears a login's failures.
func (l *Lockout) Succeed(login string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, login)
}
