// Package ingesttest provides a stand-in protocol for tests of the ingest
// path that should not depend on a real parser.
package ingesttest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/ingest"
)

// Lines is a toy lab protocol: one result per line, "barcode|code|value".
// Anything else is malformed input naming the line.
type Lines struct{}

// Effective is the time every Lines result carries.
var Effective = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// Process parses the lines and maps them with mapping.BuildLab.
func (Lines) Process(ctx context.Context, in ingest.Input) (*domain.IngestResult, error) {
	rep := mapping.LabReport{Effective: Effective}
	for i, line := range strings.Split(strings.TrimSpace(string(in.Message.Raw)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			return nil, &listeners.InvalidError{Stage: "parse", Reason: fmt.Sprintf("line %d: want barcode|code|value", i+1)}
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, &listeners.InvalidError{Stage: "parse", Reason: fmt.Sprintf("line %d field 3: %q is not a number", i+1, f[2])}
		}
		rep.Keys.Barcode = f[0]
		rep.Results = append(rep.Results, mapping.LabResult{DeviceCode: f[1], Quantity: &domain.Quantity{Value: v}})
	}
	return mapping.BuildLab(ctx, mapping.LabInput{Lookup: in.Lookup, Device: in.Device, CodeMap: in.CodeMap,
		Decisions: in.Decisions, DeviceID: in.Device.ID}, []mapping.LabReport{rep})
}
