package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Reprocessor runs a stored message through processing again.
type Reprocessor interface {
	Reprocess(ctx context.Context, orgs []int64, id int64) (*domain.Message, error)
}

// deviceInput is what a client may send for a device: every field GET
// answers, so that a device read, changed and sent back keeps the rest.
// The server-owned id, created and updated are accepted for that and
// ignored; an id must be the one in the path.
type deviceInput struct {
	ID                 int64             `json:"id"`
	Organization       int64             `json:"organization"`
	Branch             int64             `json:"branch"`
	Name               string            `json:"name"`
	Protocol           string            `json:"protocol"`
	AETitle            string            `json:"aeTitle"`
	Addresses          []string          `json:"addresses"`
	SendingApplication string            `json:"sendingApplication"`
	SendingFacility    string            `json:"sendingFacility"`
	Sender             string            `json:"sender"`
	Transport          *domain.Transport `json:"transport"`
	Encoding           string            `json:"encoding"`
	CodeMap            string            `json:"codeMap"`
	MatchingPolicy     string            `json:"matchingPolicy"`
	AckMode            string            `json:"ackMode"`
	Lenient            []string          `json:"lenient"`
	OrderMessage       string            `json:"orderMessage"`
	QCPrefix           string            `json:"qcPrefix"`
	SendsResults       *bool             `json:"sendsResults"`
	QueriesOrders      bool              `json:"queriesOrders"`
	ReceivesOrders     bool              `json:"receivesOrders"`
	Active             *bool             `json:"active"`
	Created            *time.Time        `json:"created"`
	Updated            *time.Time        `json:"updated"`
}

func (in *deviceInput) device() *domain.Device {
	return &domain.Device{OrganizationID: in.Organization, BranchID: in.Branch, Name: strings.TrimSpace(in.Name),
		Protocol: in.Protocol, AETitle: strings.TrimSpace(in.AETitle), Addresses: in.Addresses,
		SendingApplication: strings.TrimSpace(in.SendingApplication), SendingFacility: strings.TrimSpace(in.SendingFacility),
		Sender: strings.TrimSpace(in.Sender), Transport: in.Transport, Encoding: in.Encoding, CodeMap: in.CodeMap,
		MatchingPolicy: in.MatchingPolicy, AckMode: in.AckMode, Lenient: in.Lenient, OrderMessage: in.OrderMessage, QCPrefix: in.QCPrefix,
		SendsResults:  in.SendsResults == nil || *in.SendsResults,
		QueriesOrders: in.QueriesOrders, ReceivesOrders: in.ReceivesOrders, Active: in.Active == nil || *in.Active}
}

// orgFor picks the organization a new record goes to: the one named,
// which must be among orgs, or the caller's only one.
func orgFor(orgs []int64, requested int64) (int64, *apiError) {
	switch {
	case requested == 0 && len(orgs) == 1:
		return orgs[0], nil
	case requested == 0:
		return 0, invalid("organization", "you work in several organizations: say which one")
	case !containsID(orgs, requested):
		return 0, invalid("organization", "not an organization you manage")
	}
	return requested, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	list, err := s.Store.ListDevices(r.Context(), orgs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	var in deviceInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	d := in.device()
	var e *apiError
	if d.OrganizationID, e = orgFor(orgs, d.OrganizationID); e != nil {
		writeError(w, e)
		return
	}
	if err := d.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := checkDevice(r.Context(), s.Store, orgs, d); err != nil {
		s.fail(w, r, err)
		return
	}
	ev := c.audit(domain.ActionCreate, "device.create")
	if err := s.Store.CreateDevice(r.Context(), d, ev); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/devices/"+strconv.FormatInt(d.ID, 10))
	writeJSON(w, http.StatusCreated, d)
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	d, err := s.Store.GetDevice(r.Context(), orgs, pathID(r))
	if err != nil {
		s.notFoundOr(w, r, err, "device")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	var in deviceInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	d := in.device()
	d.ID = pathID(r)
	if in.ID != 0 && in.ID != d.ID {
		writeError(w, invalid("id", "id is the device's id in the path, "+strconv.FormatInt(d.ID, 10)+", or left out"))
		return
	}
	if err := d.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	cur, err := s.Store.GetDevice(r.Context(), orgs, d.ID)
	if err != nil {
		s.notFoundOr(w, r, err, "device")
		return
	}
	d.OrganizationID = cur.OrganizationID // a device stays in its organization
	if err := checkDevice(r.Context(), s.Store, orgs, d); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Store.UpdateDevice(r.Context(), orgs, d, c.audit(domain.ActionUpdate, "device.update")); err != nil {
		s.notFoundOr(w, r, err, "device")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// checkDevice checks a device against the registry before it is written,
// as Validate cannot: its branch is a branch of its organization, and no
// other active device, in any organization, has an identity that medgate
// could not tell from its own (domain.IdentitiesCollide). orgs are the
// caller's organizations: a conflicting device elsewhere is not named.
func checkDevice(ctx context.Context, st store.Store, orgs []int64, d *domain.Device) error {
	if d.BranchID != 0 {
		b, err := st.GetOrganization(ctx, d.BranchID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || b.PartOf != d.OrganizationID {
			return &domain.FieldError{Field: "branch", Message: fmt.Sprintf(
				"%d is not a branch of the device's organization %d (a branch is an organization that is part of it)", d.BranchID, d.OrganizationID)}
		}
	}
	other, err := collidingDevice(ctx, st, d, nil)
	if err != nil || other == nil {
		return err
	}
	if other.OrganizationID == d.OrganizationID && other.Name == d.Name {
		return nil // the same device sent twice: the store refuses its name
	}
	who := "an active device of another organization"
	if containsID(orgs, other.OrganizationID) {
		who = fmt.Sprintf("device %q (id %d)", other.Name, other.ID)
	}
	c := domain.DescribeClash(d, other, false)
	return &store.ConflictError{Field: c.Field, Message: c.What() + " " + c.Message(strconv.Quote, who, "make one inactive")}
}

// collidingDevice is an active device of the registry that medgate could
// not tell from d (domain.IdentitiesCollide, the rule ingest identifies
// devices by), or nil. d itself (by ID) and the devices replaced says are
// about to be rewritten are left out.
func collidingDevice(ctx context.Context, st store.Store, d *domain.Device, replaced func(id int64) bool) (*domain.Device, error) {
	if !d.Active || d.Identity() == "" {
		return nil, nil
	}
	list, err := st.FindDevices(ctx, d.Protocol, d.Identity())
	if err != nil {
		return nil, err
	}
	for i := range list {
		o := &list[i]
		if (d.ID != 0 && o.ID == d.ID) || (replaced != nil && replaced(o.ID)) {
			continue
		}
		if domain.IdentitiesCollide(d, o) {
			return o, nil
		}
	}
	return nil, nil
}

// devicePlan is a device that provisioning writes: a new one, or (exists)
// the organization's device of its name, updated in place.
type devicePlan struct {
	d      domain.Device
	exists bool
}

// planDevices resolves device specs (medgate.yaml's devices:, a YAML
// import) against the registry and checks them all before anything is
// written: each device's organization is among orgs (0: defaultOrg), it is
// valid, its branch is named after a branch of that organization, and it
// collides (domain.IdentitiesCollide) neither with another of the specs
// nor with an active device of the registry, in any organization, that the
// specs leave as it is. A spec updates its organization's device of its
// name or creates one. Errors name the device: devices[i] and its name.
func planDevices(ctx context.Context, st store.Store, orgs []int64, defaultOrg int64, specs []config.DeviceSpec) ([]devicePlan, error) {
	existing := map[int64]map[string]domain.Device{}
	var branches []domain.Organization // every organization, read once a spec names a branch
	plans := make([]devicePlan, 0, len(specs))
	for i, spec := range specs {
		at := func(key string) string { return fmt.Sprintf("devices[%d].%s", i, key) }
		d := spec.Device()
		if d.OrganizationID == 0 {
			d.OrganizationID = defaultOrg
		}
		if !containsID(orgs, d.OrganizationID) {
			return nil, &domain.FieldError{Field: at("organization"), Message: "not an organization you manage"}
		}
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("devices[%d]: %w", i, err)
		}
		if spec.Branch != "" {
			if branches == nil {
				var err error
				if branches, err = st.ListOrganizations(ctx); err != nil {
					return nil, err
				}
			}
			var found []int64
			for _, b := range branches {
				if b.PartOf == d.OrganizationID && b.Name == spec.Branch {
					found = append(found, b.ID)
				}
			}
			switch len(found) {
			case 0:
				return nil, &domain.FieldError{Field: at("branch"), Message: fmt.Sprintf(
					"device %q: organization %d has no branch named %q", d.Name, d.OrganizationID, spec.Branch)}
			case 1:
				d.BranchID = found[0]
			default:
				return nil, &domain.FieldError{Field: at("branch"), Message: fmt.Sprintf(
					"device %q: organization %d has %d branches named %q; rename all but one", d.Name, d.OrganizationID, len(found), spec.Branch)}
			}
		}
		byName, ok := existing[d.OrganizationID]
		if !ok {
			list, err := st.ListDevices(ctx, []int64{d.OrganizationID})
			if err != nil {
				return nil, err
			}
			byName = map[string]domain.Device{}
			for _, e := range list {
				byName[e.Name] = e
			}
			existing[d.OrganizationID] = byName
		}
		cur, found := byName[d.Name]
		if found {
			d.ID = cur.ID
		}
		plans = append(plans, devicePlan{d: d, exists: found})
	}
	// The registry as the specs leave it: their devices replace those they
	// update.
	rewritten := map[int64]bool{}
	for _, p := range plans {
		if p.exists {
			rewritten[p.d.ID] = true
		}
	}
	for i := range plans {
		d := &plans[i].d
		for j := range i {
			if domain.IdentitiesCollide(&plans[j].d, d) {
				c := domain.DescribeClash(d, &plans[j].d, true)
				return nil, &store.ConflictError{Field: fmt.Sprintf("devices[%d].%s", i, c.Field), Message: fmt.Sprintf("device %q: %s %s",
					d.Name, c.What(), c.Message(strconv.Quote, fmt.Sprintf("devices[%d] %q", j, plans[j].d.Name), "set active: false on one"))}
			}
		}
		other, err := collidingDevice(ctx, st, d, func(id int64) bool { return rewritten[id] })
		if err != nil {
			return nil, err
		}
		if other != nil {
			who := "an active device of another organization"
			if containsID(orgs, other.OrganizationID) {
				who = fmt.Sprintf("the registered device %q (id %d, organization %d)", other.Name, other.ID, other.OrganizationID)
			}
			c := domain.DescribeClash(d, other, true)
			return nil, &store.ConflictError{Field: fmt.Sprintf("devices[%d].%s", i, c.Field), Message: fmt.Sprintf("device %q: %s %s",
				d.Name, c.What(), c.Message(strconv.Quote, who, "set active: false on one"))}
		}
	}
	return plans, nil
}

// deviceSpecs converts devices to their YAML form, each branch by its
// name; portable leaves out the organization (0: the installation's
// first, or the one the import names).
func deviceSpecs(ctx context.Context, st store.Store, list []domain.Device, portable bool) ([]config.DeviceSpec, error) {
	names := map[int64]string{}
	specs := make([]config.DeviceSpec, len(list))
	for i, d := range list {
		specs[i] = config.SpecOf(d)
		if portable {
			specs[i].Organization = 0
		}
		if d.BranchID == 0 {
			continue
		}
		name, ok := names[d.BranchID]
		if !ok {
			b, err := st.GetOrganization(ctx, d.BranchID)
			if err != nil {
				return nil, fmt.Errorf("device %q: branch %d: %w", d.Name, d.BranchID, err)
			}
			name, names[d.BranchID] = b.Name, b.Name
		}
		specs[i].Branch = name
	}
	return specs, nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	if err := s.Store.DeleteDevice(r.Context(), orgs, pathID(r), c.audit(domain.ActionDelete, "device.delete")); err != nil {
		s.notFoundOr(w, r, err, "device")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listCodeMaps(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	list, err := s.Store.ListCodeMaps(r.Context(), orgs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
}

// codeMapOrg reads ?organization= for code-map routes, which are keyed by name.
func codeMapOrg(r *http.Request, orgs []int64) (int64, *apiError) {
	var requested int64
	if v := r.URL.Query().Get("organization"); v != "" {
		requested, _ = strconv.ParseInt(v, 10, 64)
		if requested == 0 {
			return 0, invalid("organization", "organization is an id")
		}
	}
	return orgFor(orgs, requested)
}

func (s *Server) getCodeMap(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	org, e := codeMapOrg(r, orgs)
	if e != nil {
		writeError(w, e)
		return
	}
	m, err := s.Store.GetCodeMap(r.Context(), org, r.PathValue("name"))
	if err != nil {
		s.notFoundOr(w, r, err, "code map")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

type codeMapInput struct {
	Entries []domain.CodeMapEntry `json:"entries"`
}

func (s *Server) putCodeMap(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	org, e := codeMapOrg(r, orgs)
	if e != nil {
		writeError(w, e)
		return
	}
	var in codeMapInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	m := &domain.CodeMap{OrganizationID: org, Name: r.PathValue("name"), Entries: in.Entries}
	if err := validateCodeMap(m); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Store.PutCodeMap(r.Context(), m, c.audit(domain.ActionUpdate, "codemap.put")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func validateCodeMap(m *domain.CodeMap) error {
	if m.Name == "" || len(m.Name) > 64 {
		return &domain.FieldError{Field: "name", Message: "a code map name has 1 to 64 characters"}
	}
	seen := map[string]bool{}
	for i, e := range m.Entries {
		f := "entries[" + strconv.Itoa(i) + "]"
		switch {
		case e.DeviceCode == "":
			return &domain.FieldError{Field: f + ".deviceCode", Message: "the device's code is required"}
		case seen[e.DeviceCode]:
			return &domain.FieldError{Field: f + ".deviceCode", Message: "device code " + e.DeviceCode + " is mapped twice"}
		case e.Code == "" && e.LOINC == "":
			return &domain.FieldError{Field: f + ".code", Message: "a target code or a LOINC code is required"}
		case e.Factor < 0:
			return &domain.FieldError{Field: f + ".factor", Message: "a unit conversion factor is positive"}
		}
		seen[e.DeviceCode] = true
		for j, rr := range e.Ranges {
			rf := f + ".ranges[" + strconv.Itoa(j) + "]"
			if rr.AgeToDays != 0 && rr.AgeToDays <= rr.AgeFromDays {
				return &domain.FieldError{Field: rf + ".ageToDays", Message: "the age band ends before it starts"}
			}
			if rr.Low != nil && rr.High != nil && *rr.Low > *rr.High {
				return &domain.FieldError{Field: rf + ".low", Message: "low is above high"}
			}
			switch rr.Sex {
			case "", domain.GenderMale, domain.GenderFemale, domain.GenderOther:
			default:
				return &domain.FieldError{Field: rf + ".sex", Message: `sex is "male", "female", "other" or empty for any`}
			}
		}
	}
	return nil
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	q := r.URL.Query()
	mq := store.MessageQuery{Orgs: orgs, Status: q.Get("status"), Protocol: q.Get("protocol")}
	var e *apiError
	if mq.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	if v := q.Get("device"); v != "" {
		if mq.DeviceID, _ = strconv.ParseInt(v, 10, 64); mq.DeviceID <= 0 {
			writeError(w, invalid("device", "device is a device id"))
			return
		}
	}
	list, next, err := s.Store.ListMessages(r.Context(), mq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list, "next": next})
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	m, err := s.Store.GetMessage(r.Context(), orgs, pathID(r))
	if err != nil {
		s.notFoundOr(w, r, err, "message")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// getMessageRaw answers the bytes exactly as received. They hold patient
// data, so the read is audited.
func (s *Server) getMessageRaw(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	m, err := s.Store.GetMessage(r.Context(), orgs, pathID(r))
	if err != nil {
		s.notFoundOr(w, r, err, "message")
		return
	}
	ev := c.audit(domain.ActionRead, "message.raw.read")
	ev.OrganizationID, ev.ResourceType, ev.ResourceID = m.OrganizationID, "Message", m.ID
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return
	}
	name := "message-" + strconv.FormatInt(m.ID, 10) + ".bin"
	if m.Blob != "" { // a DICOM instance: the file as stored
		f, ok := s.openBlob(w, r, m.Blob)
		if !ok {
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/dicom")
		w.Header().Set("Content-Disposition", "attachment; filename="+strings.TrimSuffix(name, ".bin")+".dcm")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.Copy(w, f)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(m.Raw)
}

func (s *Server) reprocessMessage(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	if s.Ingest == nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "ingest is not running"})
		return
	}
	m, err := s.Ingest.Reprocess(r.Context(), orgs, pathID(r))
	if err != nil {
		s.notFoundOr(w, r, err, "message")
		return
	}
	ev := c.audit(domain.ActionExecute, "message.reprocess")
	ev.OrganizationID, ev.ResourceType, ev.ResourceID, ev.Detail = m.OrganizationID, "Message", m.ID, "status "+m.Status
	_ = s.writeAudit(r.Context(), ev)
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) listRecon(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.Reconcile)
	if !ok {
		return
	}
	q := r.URL.Query()
	rq := store.ReconQuery{Orgs: orgs, Status: q.Get("status"), Reason: q.Get("reason"), Kind: q.Get("kind")}
	if rq.Status == "" {
		rq.Status = domain.ReconOpen
	}
	var e *apiError
	if rq.Page, e = page(r); e != nil {
		writeError(w, e)
		return
	}
	list, next, err := s.Store.ListRecon(r.Context(), rq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list, "next": next})
}

func (s *Server) getRecon(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.Reconcile)
	if !ok {
		return
	}
	it, err := s.Store.GetRecon(r.Context(), orgs, pathID(r))
	if err != nil {
		s.notFoundOr(w, r, err, "reconciliation item")
		return
	}
	writeJSON(w, http.StatusOK, it)
}

type attachInput struct {
	Patient int64  `json:"patient"`
	Request int64  `json:"request"`
	Note    string `json:"note"`
}

func (s *Server) attachRecon(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.Reconcile)
	if !ok {
		return
	}
	var in attachInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	s.resolve(w, r, c, orgs, store.ReconDecision{Attach: true, PatientID: in.Patient, RequestID: in.Request, Note: in.Note}, "reconciliation.attach")
}

type rejectInput struct {
	Reason string `json:"reason"`
}

func (s *Server) rejectRecon(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.Reconcile)
	if !ok {
		return
	}
	var in rejectInput
	if e := s.decode(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	if strings.TrimSpace(in.Reason) == "" {
		writeError(w, invalid("reason", "say why the item is rejected; the decision is audited"))
		return
	}
	s.resolve(w, r, c, orgs, store.ReconDecision{Note: in.Reason}, "reconciliation.reject")
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, c *caller, orgs []int64, d store.ReconDecision, event string) {
	d.UserID = c.user.ID
	ev := c.audit(domain.ActionUpdate, event)
	items, err := s.Store.ResolveRecon(r.Context(), orgs, pathID(r), d, ev)
	if err != nil {
		s.notFoundOr(w, r, err, "reconciliation item")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}
