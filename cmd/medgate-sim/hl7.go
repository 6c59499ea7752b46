package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/medgate/medgate/parsers/hl7"
	sim "github.com/medgate/medgate/simulators/hl7"
)

// runHL7 is `medgate-sim hl7`. Exit status: 0 every answer matched (and
// was -expect when given), 1 a mismatched MSA-2, a timeout, a closed
// connection, an error or an unexpected code, 2 bad flags, 130 when
// interrupted without any of those.
func runHL7(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("medgate-sim hl7", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       sim.Config
		variant   string
		replay    string
		oversize  int
		jsonOut   bool
		printAll  bool
		rcvApp    string
		rcvFac    string
		charset   string
		noMSH18   bool
		enhanced  bool
		expect    string
		barcode   string
		patientID string
		trigger   string
	)
	fs.StringVar(&cfg.Addr, "addr", sim.DefaultAddr, "medgate's MLLP address")
	fs.StringVar(&cfg.Kind, "msg", "oru", "message to send: "+strings.Join(sim.Kinds, ", ")+" (oru alternates CBC and chemistry; qry is query mode: prints the answer)")
	fs.StringVar(&replay, "replay", "", "send the messages of this file instead (blank lines or MSH start a message; FHS/BHS batches split; \\n and \\r\\n become \\r)")
	fs.BoolVar(&cfg.KeepIDs, "keep-ids", false, "replay: keep the file's MSH-10 instead of unique control IDs")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second over all connections; 0 = as fast as answers come")
	fs.IntVar(&cfg.Conns, "conns", 1, "parallel connections")
	fs.IntVar(&cfg.Count, "count", 0, "messages to send (default 1, or the replay file's count, unless -duration is set)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop starting new messages after this long")
	fs.DurationVar(&cfg.Timeout, "timeout", sim.DefaultTimeout, "how long to wait for each ACK")
	fs.StringVar(&cfg.Params.App, "app", "", "MSH-3 sending application (default "+sim.DefaultApp+"; replay: keep the file's)")
	fs.StringVar(&cfg.Params.Facility, "facility", "", "MSH-4 sending facility (replay: keep the file's when empty)")
	fs.StringVar(&rcvApp, "receiving-app", "MEDGATE", "MSH-5 receiving application")
	fs.StringVar(&rcvFac, "receiving-facility", "", "MSH-6 receiving facility")
	fs.StringVar(&barcode, "barcode", "", "specimen barcode (OBR-3, SPM-2, QRD-8), to match a medgate order; default one per message")
	fs.StringVar(&patientID, "patient-id", "", "PID-3 patient identifier; default one per message")
	fs.StringVar(&trigger, "query-trigger", "Q02", "query mode (-msg qry): Q02 sends QRY^Q02 (answered QCK^Q02, then DSR^Q03), R02 sends QRY^R02 (answered ORF^R04)")
	fs.StringVar(&charset, "charset", "utf-8", "encoding of the messages: utf-8, windows-1251, iso-8859-5, cp866 (MSH-18 set to match)")
	fs.BoolVar(&noMSH18, "no-msh18", false, "leave MSH-18 empty (medgate then uses the device's configured encoding)")
	fs.BoolVar(&enhanced, "enhanced", false, "enhanced mode: MSH-15 AL, MSH-16 NE; a commit ACK (CA) is expected")
	fs.StringVar(&variant, "variant", "", "malformed or hostile variant: "+variantNames())
	fs.IntVar(&oversize, "oversize-mib", 17, "size of an oversize message in MiB")
	fs.IntVar(&cfg.SplitBytes, "split-bytes", sim.DefaultSplitBytes, "split-frames: bytes per write")
	fs.DurationVar(&cfg.SplitPause, "split-pause", sim.DefaultSplitPause, "split-frames: pause between writes")
	fs.StringVar(&expect, "expect", "", "fail unless every ACK has this MSA-1 (AA, CA, AE, AR, ...)")
	fs.StringVar(&cfg.IDPrefix, "id-prefix", "", "control ID prefix (default <start ms base 36><2 random>-); IDs are prefix + counter")
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	fs.BoolVar(&printAll, "print", false, "print every answer (query mode always does)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: medgate-sim hl7 [flags]\n\nSends HL7 v2 messages over MLLP as an analyzer or LIS, checks that every ACK's MSA-2\nis the MSH-10 sent, and prints counts per MSA-1, throughput and ACK latency.\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nvariants and the ACK medgate gives them:\n")
		for _, v := range sim.Variants[1:] {
			fmt.Fprintf(stderr, "  %-23s %s: %s\n", v.Name, ackText(v), v.Description)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medgate-sim hl7: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.Params.ReceivingApp, cfg.Params.ReceivingFacility = rcvApp, rcvFac
	cfg.Params.Charset, cfg.Params.NoMSH18, cfg.Params.Enhanced = charset, noMSH18, enhanced
	cfg.Params.Barcode, cfg.Params.PatientID = barcode, patientID
	if !slices.Contains(sim.QueryTriggers, strings.ToUpper(trigger)) {
		fmt.Fprintf(stderr, "medgate-sim hl7: -query-trigger %q: want %s\n", trigger, strings.Join(sim.QueryTriggers, " or "))
		return 2
	}
	cfg.Params.QueryTrigger = strings.ToUpper(trigger) // read by -msg qry only
	cfg.Variant = sim.Variant(variant)
	cfg.OversizeBytes = oversize << 20
	cfg.Expect = strings.ToUpper(expect)
	if replay != "" {
		data, err := os.ReadFile(replay)
		if err != nil {
			fmt.Fprintf(stderr, "medgate-sim hl7: %v\n", err)
			return 2
		}
		if cfg.Replay = sim.SplitMessages(data); len(cfg.Replay) == 0 {
			fmt.Fprintf(stderr, "medgate-sim hl7: no messages in %s\n", replay)
			return 2
		}
	}
	query := strings.EqualFold(cfg.Kind, "qry") || strings.EqualFold(cfg.Kind, "query")
	if query || printAll {
		out := stdout
		if jsonOut {
			out = stderr
		}
		var mu sync.Mutex
		cs := charset
		cfg.OnAnswer = func(a sim.Answer) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "answer to %s:\n", a.ControlID)
			for _, f := range a.Frames {
				fmt.Fprintf(out, "%s\n", readable(f, cs))
			}
		}
	}
	rep, err := sim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "medgate-sim hl7: %v\n", err)
		return 2
	}
	return finish(stdout, rep, rep.Interrupted, jsonOut)
}

func variantNames() string {
	var names []string
	for _, v := range sim.Variants[1:] {
		names = append(names, string(v.Name))
	}
	return strings.Join(names, ", ")
}

func ackText(v sim.VariantInfo) string {
	s := v.Expect
	if v.EmptyMSA2 {
		s += " (MSA-2 empty)"
	}
	if v.Closes {
		s += ", then the connection is closed"
	}
	return s
}

// readable renders a frame one segment per line, decoded to UTF-8.
func readable(frame []byte, charset string) string {
	o := hl7.Options{DefaultCharset: charset, MaxSize: -1}
	o.Lenient.UnknownCharset = true
	if m, err := hl7.Parse(frame, o); err == nil {
		lines := make([]string, len(m.Segments))
		for i := range m.Segments {
			lines[i] = "  " + m.Segments[i].Raw()
		}
		return strings.Join(lines, "\n")
	}
	s := strings.ToValidUTF8(string(frame), "?")
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(strings.TrimRight(s, "\r\n"))
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
