package mapping

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/parsers/hl7"
)

// HL7Input is what mapping one inbound HL7 message needs: the lab input
// (lookup, device, code map, earlier decisions) and the organization's
// patient limit for patients a message registers.
type HL7Input struct {
	LabInput
	MaxPatients int            // 0: no limit
	Location    *time.Location // for timestamps sent without an offset (nil: UTC)
	// MaxAttachment is the largest decoded ED value (bytes) a result
	// message may carry; larger is refused (AE). 0: MaxAttachmentSize.
	MaxAttachment int64
}

func (in HL7Input) maxAttachment() int64 {
	if in.MaxAttachment > 0 {
		return in.MaxAttachment
	}
	return MaxAttachmentSize
}

func (in HL7Input) org() int64 {
	if in.Device == nil {
		return 0
	}
	return in.Device.OrganizationID
}

// HL7Types are the message types medgate takes over HL7, by MSH-9
// code^trigger, each with the mapping that handles it.
var HL7Types = map[string]func(context.Context, HL7Input, *hl7.Message) (*domain.IngestResult, error){
	"ORU^R01": hl7ResultsOf,
	"OUL^R22": hl7ResultsOf,
	"ADT^A01": HL7Patient, // admit
	"ADT^A04": HL7Patient, // register
	"ADT^A08": HL7Patient, // update patient information
	"ADT^A28": HL7Patient, // add person information
	"ADT^A31": HL7Patient, // update person information
	"ADT^A40": HL7Merge,   // merge patient: queued for a person, never merged
	"ADT^A34": HL7Merge,   // merge patient ID only (v2.3): likewise
	"ORM^O01": HL7Orders,
	"OML^O21": HL7Orders,
	"QRY^Q02": HL7Query, // order query: answered by the listener's Responder
	"QRY^R02": HL7Query, // order query, answered ORF^R04: likewise
}

// ParseHL7 parses a stored message with the device's profile; a message
// that does not parse is a *listeners.InvalidError naming the position.
func ParseHL7(raw []byte, dev *domain.Device, loc *time.Location) (*hl7.Message, error) {
	msg, err := hl7.Parse(raw, HL7Options(dev, loc))
	if err != nil {
		return nil, &listeners.InvalidError{Stage: "parse", Reason: err.Error(), Err: err}
	}
	return msg, nil
}

// HL7Inbound maps one parsed message by its type (see HL7Types); any other
// type is an unsupported *listeners.InvalidError (HL7 AR), its raw bytes
// kept by the pipeline.
func HL7Inbound(ctx context.Context, in HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	typ := msgType(msg)
	if msg.MSH().MessageType().Code == "ACK" {
		// An analyzer's acknowledgment of what medgate sent it (the
		// ACK^Q03 of a query answer): kept, never answered.
		return &domain.IngestResult{}, nil
	}
	fn := HL7Types[typ]
	if fn == nil {
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("message type %s is not taken (%s)", typ, strings.Join(hl7TypeNames(), ", "))}
	}
	return fn(ctx, in, msg)
}

func hl7TypeNames() []string {
	return []string{"ORU^R01", "OUL^R22", "ADT^A01", "ADT^A04", "ADT^A08", "ADT^A28", "ADT^A31", "ADT^A40", "ADT^A34", "ORM^O01", "OML^O21"}
}

// HL7Query takes an order query (QRY^Q02 or QRY^R02, see IsOrderQuery)
// from a device set to query orders: it is stored and produces nothing;
// the answer (QCK^Q02 and DSR^Q03, or ORF^R04; see BuildQueryAnswer) is
// built after storage by the listener's listeners.Responder. A device not
// set to query orders gets an unsupported *listeners.InvalidError (HL7 AR).
func HL7Query(_ context.Context, in HL7Input, msg *hl7.Message) (*domain.IngestResult, error) {
	if in.Device == nil || !in.Device.QueriesOrders {
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true,
			Reason: fmt.Sprintf("order queries (%s) are not taken from this device: it is not set to query orders", msgType(msg))}
	}
	if _, ok := OrderQuery(msg); !ok {
		return nil, &listeners.InvalidError{Stage: "map", Unsupported: true, Reason: "not an order query"}
	}
	return &domain.IngestResult{}, nil
}
