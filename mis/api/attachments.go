package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
)

// inlineTypes are the attachment types a browser may show in place: PDF,
// raster images and plain text. Anything else a device names (HTML, XML,
// SVG, ...) is sent as a download, so that a document from a device can
// never run script in the application's origin.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true, "image/bmp": true,
	"image/tiff": true, "text/plain": true,
}

// getReportAttachment answers GET /api/v1/reports/{id}/attachments/{n}:
// the n-th (from 0) document or image of a report's presentedForm, as
// stored, with its content type. The report must be attached to a patient
// of one of the caller's organizations (ResultRead); any other is not
// found. Every read is audited as report.attachment.read.
func (s *Server) getReportAttachment(w http.ResponseWriter, r *http.Request, c *caller) {
	orgs, ok := scope(w, c, auth.ResultRead)
	if !ok {
		return
	}
	id := pathID(r)
	ev := c.audit(domain.ActionRead, "report.attachment.read")
	ev.ResourceType, ev.ResourceID = "DiagnosticReport", id
	rep, err := s.Store.GetReport(r.Context(), orgs, id)
	if err != nil {
		if ae, ok := toAPIError(err); ok && ae.Status == http.StatusNotFound {
			ev.OrganizationID, ev.Outcome, ev.Detail = orgs[0], domain.OutcomeMinorFailure, "not found or not visible"
			_ = s.writeAudit(r.Context(), ev)
			writeError(w, notFound("report"))
			return
		}
		s.fail(w, r, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(rep.PresentedForm) {
		writeError(w, notFound("attachment"))
		return
	}
	a := rep.PresentedForm[n]
	ev.OrganizationID, ev.PatientID, ev.Detail = rep.OrganizationID, rep.PatientID, "attachment "+strconv.Itoa(n)
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.Blobs == nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "no blob store configured"})
		return
	}
	f, err := s.Blobs.Open(a.Location)
	if err != nil {
		s.fail(w, r, fmt.Errorf("report %d attachment %d blob %s: %w", rep.ID, n, a.Location, err))
		return
	}
	defer f.Close()
	ct, disposition := "application/octet-stream", "attachment"
	if inlineTypes[a.ContentType] {
		ct, disposition = a.ContentType, "inline"
	}
	name := fmt.Sprintf("report-%d-%d%s", rep.ID, n, extension(ct))
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	if a.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	}
	_, _ = io.Copy(w, f)
}

func extension(ct string) string {
	switch ct {
	case "application/pdf":
		return ".pdf"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/bmp":
		return ".bmp"
	case "image/tiff":
		return ".tif"
	case "text/plain":
		return ".txt"
	}
	return ".bin"
}
