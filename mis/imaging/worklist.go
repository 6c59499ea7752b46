package imaging

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	dcm "github.com/medgate/medgate/parsers/dicom"
)

// IssuerOfPatientID is what medgate's worklist puts in Issuer of Patient
// ID (0010,0021) next to its own patient IDs; a study that comes back with
// it is matched by the MIS patient ID.
const IssuerOfPatientID = "MEDGATE"

// DeviceFunc finds the registered device of a calling AE title at a peer
// address; nil when there is none.
type DeviceFunc func(ctx context.Context, callingAE, peer string) (*domain.Device, error)

// Worklist answers Modality Worklist C-FIND from medgate's active imaging
// orders, scoped to the calling device's organization. A device nobody
// registered (admitted only when the listener accepts unknown devices), or
// one not set to query orders, sees an empty worklist.
type Worklist struct {
	Store  store.ImagingStore
	Device DeviceFunc
	// Location is the clinic's time zone: scheduled dates and times are
	// written and matched in it. nil: time.Local.
	Location *time.Location
	Logger   *slog.Logger
}

// Find implements the listener's FindHandler.
func (w *Worklist) Find(ctx context.Context, req *dul.FindRequest, emit func([]byte) error) error {
	q, dev, err := prepare(ctx, req, w.Device, w.loc())
	if err != nil || dev == nil {
		return err
	}
	if !dev.QueriesOrders {
		w.log().Info("worklist query from a device not set to query orders; answered empty", "device", dev.Name)
		return nil
	}
	sq := store.WorklistQuery{Orgs: []int64{dev.OrganizationID}, Limit: 500}
	if k := q.Key(dcm.TagAccessionNumber); k != nil && k.Kind == dcm.SingleValue {
		sq.Accession = k.Value
	}
	if k := q.Key(dcm.TagPatientID); k != nil && k.Kind == dcm.SingleValue {
		id, err := strconv.ParseInt(k.Value, 10, 64)
		if err != nil || id <= 0 {
			return nil // not one of medgate's patient IDs: nothing matches
		}
		sq.PatientID = id
	}
	if sps := q.Key(dcm.TagScheduledProcedureStepSequence); sps != nil {
		if k := sps.Item(dcm.TagScheduledStationAETitle); k != nil && k.Kind == dcm.SingleValue {
			sq.StationAE = k.Value
		}
		if k := sps.Item(dcm.TagModality); k != nil && k.Kind == dcm.SingleValue {
			sq.Modality = k.Value
		}
		if k := sps.Item(dcm.TagScheduledProcedureStepStartDate); k != nil {
			sq.From, sq.To = dateBounds(k, w.loc())
		}
	}
	items, err := w.Store.Worklist(ctx, sq)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // C-CANCEL
		}
		return &dul.StatusError{Status: 0xC001, Comment: "worklist unavailable: database error"}
	}
	opt := responseOptions(dev)
	n := 0
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err // C-CANCEL
		}
		rec := worklistRecord(it, w.loc())
		if !q.Match(rec) {
			continue
		}
		if err := respond(q, rec, opt, req.TransferSyntax, emit); err != nil {
			return err
		}
		n++
	}
	w.log().Info("worklist query answered", "device", dev.Name, "items", n)
	return nil
}

func (w *Worklist) loc() *time.Location {
	if w.Location == nil {
		return time.Local
	}
	return w.Location
}

func (w *Worklist) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// prepare decodes and parses the identifier and finds the calling device.
func prepare(ctx context.Context, req *dul.FindRequest, device DeviceFunc, loc *time.Location) (*dcm.Query, *domain.Device, error) {
	ds, err := dcm.Decode(req.Identifier, req.TransferSyntax)
	if err != nil {
		return nil, nil, &dul.StatusError{Status: 0xA900, Comment: "identifier does not parse"}
	}
	q, err := dcm.ParseQuery(ds, nil)
	if err != nil {
		var ce *dcm.CharsetError
		if errors.As(err, &ce) {
			return nil, nil, &dul.StatusError{Status: 0xA900, Comment: "unknown Specific Character Set"}
		}
		return nil, nil, &dul.StatusError{Status: 0xA900, Comment: trimComment("bad key: " + err.Error())}
	}
	q.Location = loc
	var dev *domain.Device
	if req.Association != nil && device != nil {
		dev, err = device(ctx, req.Association.CallingAE, req.Association.Peer)
		if err != nil {
			return nil, nil, &dul.StatusError{Status: 0xC001, Comment: "device registry unavailable"}
		}
	}
	return q, dev, nil
}

// respond encodes one response identifier and emits it.
func respond(q *dcm.Query, rec dcm.Record, opt dcm.ResponseOptions, ts string, emit func([]byte) error) error {
	ds, err := q.Response(rec, opt)
	if err != nil {
		return &dul.StatusError{Status: 0xC002, Comment: "response cannot be encoded in the device's character set"}
	}
	b, err := ds.Encode(ts)
	if err != nil {
		return &dul.StatusError{Status: 0xC002, Comment: "response cannot be encoded"}
	}
	return emit(b)
}

// responseOptions picks the character set the device's answers use (its
// encoding setting): UTF-8 by default, ISO_IR 144 for Cyrillic 8-bit
// units, and Latin transliteration for units that show ASCII only.
func responseOptions(dev *domain.Device) dcm.ResponseOptions {
	name := "ISO_IR 192"
	translit := false
	switch strings.ToLower(dev.Encoding) {
	case "iso-ir-144", "iso-8859-5":
		name = "ISO_IR 144"
	case "iso-8859-1":
		name, translit = "ISO_IR 100", true
	case "ascii":
		name, translit = "", true
	}
	cs, err := dcm.NewCharset(name)
	if err != nil {
		cs, _ = dcm.NewCharset("ISO_IR 192")
	}
	return dcm.ResponseOptions{Charset: cs, Transliterate: translit}
}

// dateBounds turns a date key into the scheduled-time bounds to ask the
// store for; the exact match is done again on the record.
func dateBounds(k *dcm.Key, loc *time.Location) (from, to *time.Time) {
	day := func(s string, end bool) *time.Time {
		if s == "" {
			return nil
		}
		t, err := dcm.ParseDA(s, loc)
		if err != nil {
			return nil
		}
		if end {
			t = t.AddDate(0, 0, 1).Add(-time.Microsecond)
		}
		return &t
	}
	switch k.Kind {
	case dcm.SingleValue:
		return day(k.Value, false), day(k.Value, true)
	case dcm.Range:
		return day(k.Lo, false), day(k.Hi, true)
	}
	return nil, nil
}

// worklistRecord is what medgate knows of one scheduled procedure step.
func worklistRecord(it store.WorklistItem, loc *time.Location) dcm.Record {
	o, p := it.Order, it.Patient
	var r dcm.Record
	r.Set(dcm.TagPatientName, dcm.FormatPN(p.Family, p.Given, p.Patronymic))
	r.Set(dcm.TagPatientID, strconv.FormatInt(p.ID, 10))
	r.Set(dcm.TagIssuerOfPatientID, IssuerOfPatientID)
	r.Set(dcm.TagPatientBirthDate, strings.ReplaceAll(p.BirthDate, "-", ""))
	r.Set(dcm.TagPatientSex, p.Gender.Code())
	r.Set(dcm.TagAccessionNumber, o.AccessionNumber)
	r.Set(dcm.TagStudyInstanceUID, o.StudyInstanceUID)
	r.Set(dcm.TagRequestedProcedureID, o.AccessionNumber)
	r.Set(dcm.TagRequestedProcedureDescription, o.Procedure)
	r.Set(dcm.TagRequestedProcedurePriority, dicomPriority(o.Priority))
	var sps dcm.Record
	sps.Set(dcm.TagModality, o.Modality)
	sps.Set(dcm.TagScheduledStationAETitle, o.ScheduledStationAE)
	if o.Scheduled != nil {
		t := o.Scheduled.In(loc)
		sps.Set(dcm.TagScheduledProcedureStepStartDate, dcm.FormatDA(t))
		sps.Set(dcm.TagScheduledProcedureStepStartTime, dcm.FormatTM(t))
	}
	sps.Set(dcm.TagScheduledProcedureStepID, o.AccessionNumber)
	sps.Set(dcm.TagScheduledProcedureStepDescription, o.Procedure)
	sps.Set(dcm.TagScheduledProcedureStepStatus, "SCHEDULED")
	r.AddItem(dcm.TagScheduledProcedureStepSequence, sps)
	return r
}

func dicomPriority(p domain.Priority) string {
	switch p {
	case domain.PriorityStat:
		return "STAT"
	case domain.PriorityUrgent, domain.PriorityASAP:
		return "HIGH"
	}
	return "ROUTINE"
}

// trimComment fits an Error Comment (LO, 64 characters).
func trimComment(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "")
}
