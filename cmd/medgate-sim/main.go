// Command medgate-sim plays the devices' side of medgate's protocols, for
// tests, demos and load measurements:
//
//	medgate-sim hl7 [flags]       an analyzer or LIS over HL7 v2 / MLLP
//	medgate-sim modality [flags]  a CT, CBCT or X-ray unit over DICOM (worklist, C-STORE)
//
// Each protocol is a subcommand in its own file; main only dispatches.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// subcommand is one protocol's simulator. run returns the exit status.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// subcommands is the explicit list of simulators; add a protocol by
// adding its entry here and its run function in its own file.
func subcommands() []subcommand {
	return []subcommand{
		{"hl7", "send HL7 v2 over MLLP as an analyzer or LIS and check every ACK", runHL7},
		{"modality", "play a CT/CBCT/X-ray unit: C-ECHO, worklist, C-STORE of generated series", runModality},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: medgate-sim <protocol> [flags]\n\nprotocols:\n")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nmedgate-sim <protocol> -h lists the protocol's flags.\n")
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range subcommands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "medgate-sim: unknown protocol %q\n\n", args[0])
	usage(stderr)
	return 2
}

// report is what every simulator's report offers.
type report interface {
	WriteText(io.Writer) error
	OK() bool
}

// finish prints rep (JSON or text) and returns the exit status: 1 when
// something failed, 130 when the run was interrupted, else 0.
func finish(stdout io.Writer, rep report, interrupted, jsonOut bool) int {
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		rep.WriteText(stdout)
	}
	switch {
	case !rep.OK():
		return 1
	case interrupted:
		return 130
	}
	return 0
}
