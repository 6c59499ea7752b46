package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	sim "github.com/medgate/medgate/simulators/dicom"
)

// runModality is `medgate-sim modality`. Exit status: 0 every instance
// answered success or warning, 1 a failure status, an error, an empty
// worklist or instances not sent, 2 bad flags, 130 when interrupted
// without any of those.
func runModality(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("medgate-sim modality", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     sim.Config
		charset string
		jsonOut bool
		maxPDU  uint
	)
	var kinds []string
	for _, k := range sim.Kinds {
		kinds = append(kinds, fmt.Sprintf("%s (%s)", k.Name, k.Description))
	}
	fs.StringVar(&cfg.Addr, "addr", sim.DefaultAddr, "the SCP's address (medgate's DICOM port, storescp, ...)")
	fs.StringVar(&cfg.CalledAE, "aec", sim.DefaultCalledAE, "called AE title (the SCP's)")
	fs.StringVar(&cfg.CallingAE, "aet", sim.DefaultCallingAE, "our AE title; also the worklist's Scheduled Station AE Title")
	fs.StringVar(&cfg.Kind, "kind", "ct", "what to send: "+strings.Join(kinds, "; "))
	fs.StringVar(&cfg.Modality, "modality", "", "Modality of the series and of the worklist query (default: the kind's: CT, PX, IO)")
	fs.IntVar(&cfg.Slices, "slices", 0, "slices (frames with -multiframe); default the kind's")
	fs.IntVar(&cfg.Rows, "rows", 0, "rows per image; default the kind's")
	fs.IntVar(&cfg.Cols, "cols", 0, "columns per image; default the kind's")
	fs.IntVar(&cfg.Count, "count", 1, fmt.Sprintf("series to send (repetitions, each a new series in the study; at most %d)", sim.MaxCount))
	fs.IntVar(&cfg.Assocs, "assocs", 1, "parallel storage associations; the instances are shared out among them")
	fs.BoolVar(&cfg.JPEGLossless, "jpeg-lossless", false, "send encapsulated JPEG Lossless SV1 (1.2.840.10008.1.2.4.70) instead of Explicit/Implicit VR Little Endian")
	fs.BoolVar(&cfg.MultiFrame, "multiframe", false, "send each series as ONE Enhanced CT instance whose frames are generated while sending (ct, cbct)")
	fs.StringVar(&charset, "charset", "utf-8", "Specific Character Set of the instances: utf-8 (ISO_IR 192) or iso-ir-144 (ISO_IR 144)")
	fs.BoolVar(&cfg.NoWorklist, "no-worklist", false, "skip the worklist query and invent a Cyrillic patient, accession and study")
	fs.BoolVar(&cfg.NoEcho, "no-echo", false, "skip the C-ECHO")
	fs.StringVar(&cfg.Accession, "accession", "", "ask the worklist for this accession number only")
	fs.DurationVar(&cfg.Timeout, "timeout", sim.DefaultTimeout, "bound on each C-STORE (sending and the response)")
	fs.UintVar(&maxPDU, "max-pdu", 0, "maximum PDU length we announce (0: 131072)")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: medgate-sim modality [flags]\n\nPlays a CT, CBCT, panoramic or intra-oral X-ray unit: C-ECHO, Modality Worklist query for\nits AE title, then generates the series (before timing) and sends it with C-STORE,\nprinting instances/s, MB/s, the statuses and C-STORE latency.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medgate-sim modality: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	switch strings.ToLower(strings.NewReplacer("_", "-", " ", "-").Replace(charset)) {
	case "utf-8", "utf8", "iso-ir-192":
		cfg.Charset = "ISO_IR 192"
	case "iso-ir-144", "iso-8859-5":
		cfg.Charset = "ISO_IR 144"
	default:
		fmt.Fprintf(stderr, "medgate-sim modality: -charset %q: want utf-8 or iso-ir-144\n", charset)
		return 2
	}
	if maxPDU > 0 && (maxPDU < 4096 || maxPDU > 1<<24) {
		fmt.Fprintf(stderr, "medgate-sim modality: -max-pdu must be 4096 to 16777216\n")
		return 2
	}
	cfg.MaxPDU = uint32(maxPDU)
	if cfg.Count < 1 || cfg.Assocs < 1 || cfg.Slices < 0 {
		fmt.Fprintf(stderr, "medgate-sim modality: -count and -assocs must be at least 1, -slices not negative\n")
		return 2
	}
	rep, err := sim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "medgate-sim modality: %v\n", err)
		return 2
	}
	return finish(stdout, rep, rep.Interrupted, jsonOut)
}
