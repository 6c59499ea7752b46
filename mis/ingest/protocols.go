package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/parsers/hl7"
)

// HL7 processes HL7 v2 messages by their type (mapping.HL7Types): results
// (ORU^R01, OUL^R22), patients (ADT^A01, A04, A08, A28, A31; A40 and A34
// merges go to reconciliation) and orders from an outside LIS/HIS
// (ORM^O01, OML^O21); order queries (QRY^Q02, QRY^R02) from devices set
// to query orders (answered by HL7Responder) and acknowledgments (kept,
// never answered). Any other type is refused as unsupported (AR), its
// raw bytes kept. Location is the clinic's time zone for timestamps
// devices send without an offset (nil: UTC); MaxPatients is the
// organization's patient limit for patients a message registers, as the
// API applies it (0: no limit). Blobs keeps the documents and images
// results carry (OBX-2 ED: a PDF report, a histogram), which become their
// report's presentedForm; a message with one and no Blobs is a fault, not
// processed. MaxAttachment bounds one decoded attachment (0:
// mapping.MaxAttachmentSize); larger is refused (AE).
type HL7 struct {
	Location      *time.Location
	MaxPatients   int
	Blobs         *blob.FS
	MaxAttachment int64
}

// Process parses and maps one stored HL7 message.
func (h HL7) Process(ctx context.Context, in Input) (*domain.IngestResult, error) {
	msg, err := mapping.ParseHL7(in.Message.Raw, in.Device, h.Location)
	if err != nil {
		return nil, err
	}
	res, err := mapping.HL7Inbound(ctx, mapping.HL7Input{
		LabInput: mapping.LabInput{Lookup: in.Lookup, Device: in.Device, CodeMap: in.CodeMap,
			Decisions: in.Decisions, DeviceID: in.Device.ID},
		MaxPatients: h.MaxPatients, Location: h.Location, MaxAttachment: h.MaxAttachment,
	}, msg)
	if err != nil {
		return nil, err
	}
	if err := storeAttachments(ctx, h.Blobs, res); err != nil {
		return nil, err
	}
	return res, nil
}

// storeAttachments writes the reports' attachment bytes to the blob store
// before the result is applied, so that the transaction that stores the
// reports only writes keys: each is staged in the store's TempDir,
// fsync'd and put under its SHA-256 (the same document stored again, as
// when a message is reprocessed, is kept once). Location is set and Data
// dropped.
func storeAttachments(ctx context.Context, blobs *blob.FS, res *domain.IngestResult) error {
	for i := range res.Reports {
		pf := res.Reports[i].Report.PresentedForm
		for j := range pf {
			a := &pf[j]
			if a.Data == nil {
				continue
			}
			if blobs == nil {
				return errors.New("hl7: a result carries an attachment and no blob store is configured")
			}
			key, err := putBlob(ctx, blobs, a.Data)
			if err != nil {
				return fmt.Errorf("hl7 attachment: %w", err)
			}
			sum := sha256.Sum256(a.Data)
			a.Location, a.Size, a.SHA256, a.Data = key, int64(len(a.Data)), hex.EncodeToString(sum[:]), nil
		}
	}
	return nil
}

// putBlob stages data in the blob store's TempDir, fsyncs it and puts it.
func putBlob(ctx context.Context, blobs *blob.FS, data []byte) (string, error) {
	f, err := os.CreateTemp(blobs.TempDir(), "att-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone already after a successful Put
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return blobs.Put(ctx, tmp, sha256.Sum256(data))
}

// HL7Responder is the MLLP listener's handler: every message goes through
// the Pipeline as usual (stored, then processed), and an order query
// (mapping.IsOrderQuery) from a device set to query orders is then answered
// with the orders of its sample (mapping.BuildQueryAnswer: for QRY^Q02 a
// QCK^Q02, then DSR^Q03 when there are orders; for QRY^R02 one ORF^R04)
// instead of an ACK. It implements listeners.Responder.
//
// The sample is found by its specimen barcode (or, failing that, by an
// accession number) within the device's organization; only an active lab
// order counts. An unknown barcode is answered "no orders" (QAK NF; an
// ORF^R04 without PID/OBR), never with an error. The answer is built
// after the query is stored, from what the store holds then.
type HL7Responder struct {
	*Pipeline
	Location *time.Location // for the answers' timestamps (nil: time.Local)
}

var _ listeners.Responder = HL7Responder{}

// answerIDs numbers the query answers' control IDs.
var answerIDs = hl7.ControlIDs{Prefix: "MGQ"}

// Respond handles env and answers an order query.
func (r HL7Responder) Respond(ctx context.Context, env *listeners.Envelope) ([][]byte, error) {
	if err := r.Handle(ctx, env); err != nil {
		return nil, err
	}
	if env.Protocol != listeners.HL7 || !mapping.IsOrderQuery(env.Type) {
		return nil, nil
	}
	dev, err := r.Device(ctx, env)
	if err != nil || dev == nil || !dev.QueriesOrders {
		// Stored and acknowledged as the processor decided; no answer.
		return nil, nil
	}
	loc := r.Location
	if loc == nil {
		loc = time.Local
	}
	msg, err := mapping.ParseHL7(env.Raw, dev, loc)
	if err != nil {
		return nil, err
	}
	barcode, ok := mapping.OrderQuery(msg)
	if !ok {
		return nil, nil
	}
	a := mapping.QueryAnswer{Barcode: barcode, Time: time.Now().In(loc)}
	a.ControlIDs = [2]string{answerIDs.Next(), answerIDs.Next()}
	if err := r.findOrder(ctx, dev, &a); err != nil {
		r.log().Error("order query: lookup failed", "device", dev.Name, "err", err)
		return nil, fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
	}
	r.log().Info("order query answered", "device", dev.Name, "type", env.Type, "control_id", env.Key, "found", a.Order != nil,
		"tests", orderTests(a.Order))
	return mapping.BuildQueryAnswer(msg, a), nil
}

func orderTests(o *domain.ServiceRequest) int {
	if o == nil {
		return 0
	}
	return len(o.Codes)
}

// findOrder fills a with the active lab order of its barcode, its specimen,
// patient and the device's code map; nothing when there is none.
func (r HL7Responder) findOrder(ctx context.Context, dev *domain.Device, a *mapping.QueryAnswer) error {
	if a.Barcode == "" {
		return nil
	}
	org := dev.OrganizationID
	var order *domain.ServiceRequest
	sp, err := r.Store.FindSpecimen(ctx, org, a.Barcode)
	switch {
	case err == nil:
		order, err = r.Store.GetServiceRequest(ctx, []int64{org}, sp.RequestID)
	case errors.Is(err, store.ErrNotFound):
		order, err = r.Store.FindOrderByAccession(ctx, org, a.Barcode)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if order.Category != domain.CategoryLab || order.Status != domain.StatusActive {
		return nil
	}
	if sp == nil && len(order.Specimens) > 0 {
		sp = &order.Specimens[0]
	}
	patient, err := r.Store.GetPatient(ctx, []int64{org}, order.PatientID)
	if err != nil {
		return err
	}
	var cm *domain.CodeMap
	if dev.CodeMap != "" {
		if cm, err = r.Store.GetCodeMap(ctx, org, dev.CodeMap); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	a.Order, a.Specimen, a.Patient, a.CodeMap = order, sp, patient, cm
	return nil
}
