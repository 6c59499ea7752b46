package api

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/config"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// ProvisionDevices creates or updates devices by name, in the spec's
// organization or else defaultOrg, which must be among orgs. Every spec is
// checked before anything is written (planDevices: valid, its branch found
// by name, no identity that ingest could not tell from another active
// device's), so a bad file changes nothing. It serves the config file's
// devices: section and the YAML import.
func ProvisionDevices(ctx context.Context, st store.Store, orgs []int64, defaultOrg int64, specs []config.DeviceSpec,
	audit func() *domain.AuditEvent) (created, updated int, err error) {
	plans, err := planDevices(ctx, st, orgs, defaultOrg, specs)
	if err != nil {
		return 0, 0, err
	}
	for _, p := range plans {
		d := p.d
		if p.exists {
			err = st.UpdateDevice(ctx, []int64{d.OrganizationID}, &d, audit())
			updated++
		} else {
			err = st.CreateDevice(ctx, &d, audit())
			created++
		}
		if err != nil {
			return created, updated, fmt.Errorf("device %q: %w", d.Name, err)
		}
	}
	return created, updated, nil
}

// exportDevices answers the organization's devices as YAML in the format
// of medgate.yaml's devices: section.
func (s *Server) exportDevices(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	list, err := s.Store.ListDevices(r.Context(), orgs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// One organization: portable, "this installation's organization".
	specs, err := deviceSpecs(r.Context(), s.Store, list, len(orgs) == 1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := config.EncodeDevices(specs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename=devices.yaml")
	_, _ = w.Write(out)
}

// importDevices reads a devices: YAML document strictly (errors name the
// line) and creates or updates the devices by name.
func (s *Server) importDevices(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.DeviceAdmin)
	if !ok {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		switch mt, _, _ := mime.ParseMediaType(ct); mt {
		case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		default:
			writeError(w, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send Content-Type: application/yaml"})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	if err != nil {
		writeError(w, jsonError(err))
		return
	}
	specs, err := config.DecodeDevices(body, "devices.yaml")
	if err != nil {
		writeError(w, invalid("devices", err.Error()))
		return
	}
	def := orgs[0]
	if v := r.URL.Query().Get("organization"); v != "" {
		if def, _ = strconv.ParseInt(v, 10, 64); !containsID(orgs, def) {
			writeError(w, invalid("organization", "not an organization you manage"))
			return
		}
	}
	created, updated, err := ProvisionDevices(r.Context(), s.Store, orgs, def, specs,
		func() *domain.AuditEvent { return c.audit(domain.ActionUpdate, "device.import") })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"created": created, "updated": updated})
}
