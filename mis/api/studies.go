package api

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/dicom/render"
)

// Imaging routes follow DICOMweb's resource paths (PS3.18): a study's
// index as JSON, an instance as application/dicom, and the "rendered"
// resources — one frame as PNG or JPEG with a window — plus series
// thumbnails. They answer for studies of the caller's organizations.
func (s *Server) imagingRoutes(mux *http.ServeMux) {
	const base = "/dicomweb/studies/{study}"
	mux.HandleFunc("GET /api/v1/studies/{study}", s.authed(s.getStudy))
	mux.HandleFunc("GET "+base+"/series/{series}/instances/{sop}", s.authed(s.getInstance))
	mux.HandleFunc("GET "+base+"/series/{series}/instances/{sop}/rendered", s.authed(s.renderInstance))
	mux.HandleFunc("GET "+base+"/series/{series}/instances/{sop}/frames/{frame}/rendered", s.authed(s.renderInstance))
	mux.HandleFunc("GET "+base+"/series/{series}/thumbnail", s.authed(s.seriesThumbnail))
}

// study reads the path's study within the caller's organizations.
func (s *Server) study(w http.ResponseWriter, r *http.Request, c *caller) (*domain.ImagingStudy, bool) {
	orgs, ok := scope(w, c, auth.ResultRead)
	if !ok {
		return nil, false
	}
	st, err := s.Store.StudyByUID(r.Context(), orgs, r.PathValue("study"))
	if err != nil {
		s.notFoundOr(w, r, err, "study")
		return nil, false
	}
	return st, true
}

func (s *Server) getStudy(w http.ResponseWriter, r *http.Request, c *caller) {
	st, ok := s.study(w, r, c)
	if !ok {
		return
	}
	if !s.auditStudy(w, r, c, st, true) {
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// auditStudy records that the caller looked at a study. Scrolling through
// a CT sends hundreds of frame requests: those are audited once per user
// and study every auditEvery, the study's index on every read.
func (s *Server) auditStudy(w http.ResponseWriter, r *http.Request, c *caller, st *domain.ImagingStudy, always bool) bool {
	key := fmt.Sprintf("%d/%d", c.user.ID, st.ID)
	now := s.Now()
	if !always {
		if last, ok := s.studyAudits.Load(key); ok && now.Sub(last.(time.Time)) < auditEvery {
			return true
		}
	}
	ev := c.audit(domain.ActionRead, "study.read")
	ev.OrganizationID, ev.PatientID, ev.ResourceType, ev.ResourceID = st.OrganizationID, st.PatientID, "ImagingStudy", st.ID
	if err := s.writeAudit(r.Context(), ev); err != nil {
		s.fail(w, r, err)
		return false
	}
	s.studyAudits.Store(key, now)
	// Forget what no longer spares an audit row, now and then, so the map
	// does not grow with every study ever viewed.
	if s.studyAuditWrites.Add(1)%1024 == 0 {
		s.studyAudits.Range(func(k, v any) bool {
			if now.Sub(v.(time.Time)) >= auditEvery {
				s.studyAudits.Delete(k)
			}
			return true
		})
	}
	return true
}

const auditEvery = 10 * time.Minute

// instance finds an instance of the path's study and series.
func (s *Server) instance(w http.ResponseWriter, r *http.Request, c *caller) (*domain.ImagingStudy, *domain.ImagingInstance, bool) {
	st, ok := s.study(w, r, c)
	if !ok {
		return nil, nil, false
	}
	for i := range st.Series {
		if st.Series[i].UID != r.PathValue("series") {
			continue
		}
		for j := range st.Series[i].Instances {
			if in := &st.Series[i].Instances[j]; in.SOPInstanceUID == r.PathValue("sop") {
				return st, in, true
			}
		}
	}
	writeError(w, notFound("instance"))
	return nil, nil, false
}

func (s *Server) openBlob(w http.ResponseWriter, r *http.Request, key string) (*os.File, bool) {
	if s.Blobs == nil {
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "no DICOM store configured"})
		return nil, false
	}
	f, err := s.Blobs.Open(key)
	if err != nil {
		s.fail(w, r, fmt.Errorf("instance blob %s: %w", key, err))
		return nil, false
	}
	return f, true
}

// getInstance answers the Part 10 file exactly as stored.
func (s *Server) getInstance(w http.ResponseWriter, r *http.Request, c *caller) {
	st, in, ok := s.instance(w, r, c)
	if !ok || !s.auditStudy(w, r, c, st, false) {
		return
	}
	f, ok := s.openBlob(w, r, in.Location)
	if !ok {
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/dicom")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Length", strconv.FormatInt(in.Size, 10))
	_, _ = io.Copy(w, f)
}

func (s *Server) renderInstance(w http.ResponseWriter, r *http.Request, c *caller) {
	st, in, ok := s.instance(w, r, c)
	if !ok {
		return
	}
	opt, format, err := renderOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !s.auditStudy(w, r, c, st, false) {
		return
	}
	s.renderBlob(w, r, in, opt, format)
}

// seriesThumbnail renders the series' middle instance, small.
func (s *Server) seriesThumbnail(w http.ResponseWriter, r *http.Request, c *caller) {
	st, ok := s.study(w, r, c)
	if !ok {
		return
	}
	var in *domain.ImagingInstance
	for i := range st.Series {
		if se := &st.Series[i]; se.UID == r.PathValue("series") && len(se.Instances) > 0 {
			in = &se.Instances[len(se.Instances)/2]
		}
	}
	if in == nil {
		writeError(w, notFound("series"))
		return
	}
	opt, format, err := renderOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if opt.Size == 0 {
		opt.Size = 128
	}
	if !s.auditStudy(w, r, c, st, false) {
		return
	}
	s.renderBlob(w, r, in, opt, format)
}

func (s *Server) renderBlob(w http.ResponseWriter, r *http.Request, in *domain.ImagingInstance, opt render.Options, format string) {
	f, ok := s.openBlob(w, r, in.Location)
	if !ok {
		return
	}
	defer f.Close()
	img, err := render.Render(f, in.Size, opt)
	var unsupported *render.UnsupportedTransferSyntaxError
	switch {
	case errors.As(err, &unsupported):
		writeError(w, &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_transfer_syntax",
			Message: "this instance is stored but cannot be rendered yet: " + unsupported.Error()})
		return
	case errors.Is(err, render.ErrFrameOutOfRange):
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "frame not found: " + err.Error()})
		return
	case errors.Is(err, render.ErrNoPixelData):
		writeError(w, &apiError{Status: http.StatusUnsupportedMediaType, Code: "no_pixel_data", Message: "this instance holds no image (e.g. a report)"})
		return
	case err != nil:
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Code: "unrenderable", Message: "the image cannot be rendered: " + err.Error()})
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	if format == "image/jpeg" {
		w.Header().Set("Content-Type", "image/jpeg")
		_ = jpeg.Encode(w, toJPEG(img), &jpeg.Options{Quality: 90})
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_ = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
}

// toJPEG drops what image/jpeg cannot write (16-bit gray).
func toJPEG(img image.Image) image.Image {
	if g, ok := img.(*image.Gray16); ok {
		out := image.NewGray(g.Bounds())
		for i := 0; i < len(out.Pix); i++ {
			out.Pix[i] = g.Pix[2*i]
		}
		return out
	}
	return img
}

// renderOptions reads the rendered resource's parameters: the frame from
// the path (1-based, as DICOMweb counts), window=center,width[,function],
// viewport=width,height (the longer side bounds the image), and the
// format from accept= or the Accept header (PNG unless JPEG is asked for).
func renderOptions(r *http.Request) (render.Options, string, *apiError) {
	var opt render.Options
	if f := r.PathValue("frame"); f != "" {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return opt, "", invalid("frame", "frame numbers start at 1")
		}
		opt.Frame = n - 1
	}
	q := r.URL.Query()
	if v := q.Get("window"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) < 2 || len(parts) > 3 {
			return opt, "", invalid("window", "window is center,width or center,width,function")
		}
		c, err1 := strconv.ParseFloat(parts[0], 64)
		wd, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil || wd < 1 {
			return opt, "", invalid("window", "window center and width are numbers, the width at least 1")
		}
		opt.WindowCenter, opt.WindowWidth = &c, &wd
		if len(parts) == 3 {
			fn := strings.ToUpper(parts[2])
			if fn != "LINEAR" && fn != "LINEAR_EXACT" && fn != "SIGMOID" {
				return opt, "", invalid("window", "window function is linear, linear_exact or sigmoid")
			}
			opt.VOIFunction = fn
		}
	}
	if v := q.Get("viewport"); v != "" {
		parts := strings.Split(v, ",")
		size := 0
		for _, p := range parts[:min(2, len(parts))] {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 8192 {
				return opt, "", invalid("viewport", "viewport is width,height in pixels (1 to 8192)")
			}
			size = max(size, n)
		}
		opt.Size = size
	}
	format := "image/png"
	accept := q.Get("accept")
	if accept == "" {
		accept = r.Header.Get("Accept")
	}
	if strings.Contains(accept, "image/jpeg") && !strings.Contains(accept, "image/png") {
		format = "image/jpeg"
	}
	return opt, format, nil
}
