package storetest

import (
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
)

func testPing(t *testing.T, open opener) {
	t.Run("Ping", func(t *testing.T) {
		e := begin(t, open)
		if err := e.s.Ping(e.ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("TimesInUTC", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("ООО «Клиника»")
		p := e.patient(org.ID, "Иванов", "Иван")
		got := e.getPatient(ids(org.ID), p.ID)
		checkUTC(t, "Organization.Created (returned by create)", org.Created)
		checkUTC(t, "Patient.Created", got.Created)
		checkUTC(t, "Patient.Updated", got.Updated)
		u := e.user("utc")
		now := time.Now().In(MSK)
		s := domain.Session{TokenHash: "utc-token", UserID: u.ID, Created: now, Expires: now.Add(time.Hour)}
		if err := e.s.CreateSession(e.ctx, s); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		gs, err := e.s.GetSession(e.ctx, s.TokenHash)
		if err != nil {
			t.Fatalf("GetSession: %v", err)
		}
		sameInstant(t, "Session.Created (given in MSK)", now, gs.Created)
		sameInstant(t, "Session.Expires (given in MSK)", now.Add(time.Hour), gs.Expires)
	})
}

func testOrganizations(t *testing.T, open opener) {
	t.Run("CreateAndGet", func(t *testing.T) {
		e := begin(t, open)
		parent := NewOrganization("ООО «Клиника Здоровье»")
		parent.INN = "7701234567"
		parent.OGRN = "1027700132195"
		parent.UIDRoot = UIDRoot
		if err := e.s.CreateOrganization(e.ctx, parent); err != nil {
			t.Fatalf("CreateOrganization: %v", err)
		}
		if parent.ID == 0 {
			t.Fatal("CreateOrganization did not set ID")
		}
		if parent.Created.IsZero() {
			t.Error("CreateOrganization did not set Created")
		}
		branch := NewOrganization("Филиал «Тверская»")
		branch.PartOf = parent.ID
		branch.Active = false
		if err := e.s.CreateOrganization(e.ctx, branch); err != nil {
			t.Fatalf("CreateOrganization(branch): %v", err)
		}
		if branch.ID == 0 || branch.ID == parent.ID {
			t.Fatalf("branch ID = %d (parent %d)", branch.ID, parent.ID)
		}
		for _, want := range []*domain.Organization{parent, branch} {
			got, err := e.s.GetOrganization(e.ctx, want.ID)
			if err != nil {
				t.Fatalf("GetOrganization(%d): %v", want.ID, err)
			}
			sameJSON(t, "GetOrganization", normOrg(*want), normOrg(*got))
			checkUTC(t, "Organization.Created", got.Created)
		}
	})
	t.Run("GetUnknown", func(t *testing.T) {
		e := begin(t, open)
		_, err := e.s.GetOrganization(e.ctx, 987654321)
		wantNotFound(t, "GetOrganization(unknown)", err)
	})
	t.Run("ListOrderedByID", func(t *testing.T) {
		e := begin(t, open)
		a := e.org("Альфа")
		b := e.org("Бета", func(o *domain.Organization) { o.PartOf = a.ID })
		c := e.org("Гамма")
		list, err := e.s.ListOrganizations(e.ctx)
		if err != nil {
			t.Fatalf("ListOrganizations: %v", err)
		}
		var got []int64
		for i, o := range list {
			if i > 0 && o.ID <= list[i-1].ID {
				t.Errorf("ListOrganizations not ordered by id: %d after %d", o.ID, list[i-1].ID)
			}
			switch o.ID {
			case a.ID, b.ID, c.ID:
				got = append(got, o.ID)
			}
			if o.ID == b.ID && o.PartOf != a.ID {
				t.Errorf("listed branch PartOf = %d, want %d", o.PartOf, a.ID)
			}
		}
		sameIDs(t, "ListOrganizations (created ones)", ids(a.ID, b.ID, c.ID), got)
	})
}

func testUsers(t *testing.T, open opener) {
	t.Run("CreateAndGet", func(t *testing.T) {
		e := begin(t, open)
		a, b := e.org("Альфа"), e.org("Бета")
		u := NewUser("ivanova.m",
			domain.Membership{OrganizationID: a.ID, Roles: []domain.Role{domain.RoleDoctor, domain.RoleRegistrar}},
			domain.Membership{OrganizationID: b.ID, Roles: []domain.Role{domain.RoleLab}},
		)
		u.Name = "Иванова Мария Петровна"
		if err := e.s.CreateUser(e.ctx, u); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if u.ID == 0 {
			t.Fatal("CreateUser did not set ID")
		}
		byID, err := e.s.GetUser(e.ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		sameJSON(t, "GetUser", normUser(*u), normUser(*byID))
		if byID.PasswordHash != u.PasswordHash {
			t.Errorf("GetUser PasswordHash = %q, want %q", byID.PasswordHash, u.PasswordHash)
		}
		checkUTC(t, "User.Created", byID.Created)
		for _, login := range []string{"ivanova.m", "IVANOVA.M", "Ivanova.M"} {
			byLogin, err := e.s.GetUserByLogin(e.ctx, login)
			if err != nil {
				t.Fatalf("GetUserByLogin(%q): %v", login, err)
			}
			sameJSON(t, "GetUserByLogin("+login+")", normUser(*u), normUser(*byLogin))
			if byLogin.PasswordHash != u.PasswordHash {
				t.Errorf("GetUserByLogin(%q) PasswordHash = %q, want %q", login, byLogin.PasswordHash, u.PasswordHash)
			}
		}
	})
	t.Run("WithoutMemberships", func(t *testing.T) {
		e := begin(t, open)
		u := e.user("nobody.in.particular")
		got, err := e.s.GetUser(e.ctx, u.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if len(got.Memberships) != 0 {
			t.Errorf("GetUser memberships = %v, want none", got.Memberships)
		}
	})
	t.Run("LoginUniqueCaseInsensitive", func(t *testing.T) {
		e := begin(t, open)
		first := e.user("admin")
		err := e.s.CreateUser(e.ctx, NewUser("Admin"))
		wantConflict(t, `CreateUser("Admin") after "admin"`, err, "login")
		err = e.s.CreateUser(e.ctx, NewUser("admin"))
		wantConflict(t, `CreateUser("admin") twice`, err, "login")
		got, err := e.s.GetUserByLogin(e.ctx, "ADMIN")
		if err != nil {
			t.Fatalf("GetUserByLogin: %v", err)
		}
		if got.ID != first.ID {
			t.Errorf("GetUserByLogin(ADMIN) = user %d, want %d", got.ID, first.ID)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		e := begin(t, open)
		e.user("someone")
		_, err := e.s.GetUser(e.ctx, 987654321)
		wantNotFound(t, "GetUser(unknown)", err)
		_, err = e.s.GetUserByLogin(e.ctx, "no-such-login")
		wantNotFound(t, "GetUserByLogin(unknown)", err)
	})
}

func testSessions(t *testing.T, open opener) {
	t.Run("CreateGetDelete", func(t *testing.T) {
		e := begin(t, open)
		u := e.user("doctor")
		// Live sessions (a store may purge expired ones at any time).
		now := time.Now().In(MSK)
		s1 := domain.Session{TokenHash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
			UserID: u.ID, Created: now, Expires: now.Add(12 * time.Hour), Address: "192.0.2.10"}
		s2 := domain.Session{TokenHash: "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3",
			UserID: u.ID, Created: now.Add(time.Minute), Expires: now.Add(13 * time.Hour), Address: "2001:db8::1"}
		for _, s := range []domain.Session{s1, s2} {
			if err := e.s.CreateSession(e.ctx, s); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
		}
		for _, want := range []domain.Session{s1, s2} {
			got, err := e.s.GetSession(e.ctx, want.TokenHash)
			if err != nil {
				t.Fatalf("GetSession: %v", err)
			}
			if got.TokenHash != want.TokenHash || got.UserID != want.UserID || got.Address != want.Address {
				t.Errorf("GetSession = %+v, want %+v", *got, want)
			}
			sameInstant(t, "Session.Created", want.Created, got.Created)
			sameInstant(t, "Session.Expires", want.Expires, got.Expires)
		}
		if err := e.s.DeleteSession(e.ctx, s1.TokenHash); err != nil {
			t.Fatalf("DeleteSession: %v", err)
		}
		_, err := e.s.GetSession(e.ctx, s1.TokenHash)
		wantNotFound(t, "GetSession after DeleteSession", err)
		if _, err := e.s.GetSession(e.ctx, s2.TokenHash); err != nil {
			t.Errorf("the user's other session is gone after deleting one: %v", err)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		e := begin(t, open)
		_, err := e.s.GetSession(e.ctx, "no-such-token-hash")
		wantNotFound(t, "GetSession(unknown)", err)
	})
}
