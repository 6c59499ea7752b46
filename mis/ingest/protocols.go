package ingest

import (
	"context"
	"time"

	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/domain"
)

// HL7 processes HL7 v2 result messages (ORU^R01, OUL^R22) with
// mapping.HL7Results. Location is the clinic's time zone for timestamps
// devices send without an offset (nil: UTC).
type HL7 struct {
	Location *time.Location
}

// Process parses and maps one stored HL7 message.
func (h HL7) Process(ctx context.Context, in Input) (*domain.IngestResult, error) {
	return mapping.HL7Results(ctx, mapping.LabInput{Lookup: in.Lookup, Device: in.Device, CodeMap: in.CodeMap,
		Decisions: in.Decisions, DeviceID: in.Device.ID}, in.Message.Raw, h.Location)
}
