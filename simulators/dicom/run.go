package dicom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	dul "github.com/medgate/medgate/listeners/dicom"
	"github.com/medgate/medgate/simulators"
)

// Defaults for Config's zero-valued fields.
const (
	DefaultAddr      = "127.0.0.1:11112"
	DefaultCalledAE  = "MEDGATE"
	DefaultCallingAE = "MEDGATE-SIM"
	DefaultTimeout   = 5 * time.Minute
	// MaxCount and MaxSlices bound a run.
	MaxCount  = 10000
	MaxSlices = 20000
	MaxAssocs = 64
)

// Config is one simulator run. The zero value reads the worklist of
// MEDGATE at 127.0.0.1:11112 as MEDGATE-SIM and sends one 400-slice CT
// series over one association.
type Config struct {
	Addr      string // default DefaultAddr
	CalledAE  string // default DefaultCalledAE
	CallingAE string // default DefaultCallingAE; also the worklist's Scheduled Station AE Title

	Kind string // see Kinds; default "ct"
	// Modality overrides the kind's (series and worklist query).
	Modality string
	// Slices, Rows, Cols override the kind's matrix (0: the kind's).
	Slices, Rows, Cols int
	// Count is the number of series sent (each a new Series Instance UID
	// in the same study); default 1.
	Count int
	// Assocs is the number of parallel storage associations; the
	// instances are shared out among them. Default 1.
	Assocs int
	// JPEGLossless sends encapsulated JPEG Lossless SV1 (1.2.840.10008.1.2.4.70).
	JPEGLossless bool
	// MultiFrame sends each series as one Enhanced CT instance whose
	// frames are generated while it is sent (CT kinds).
	MultiFrame bool
	// Charset is the Specific Character Set of the instances: "ISO_IR 192"
	// (default) or "ISO_IR 144".
	Charset string

	// NoEcho skips the C-ECHO; NoWorklist skips the worklist query and
	// invents a patient.
	NoEcho, NoWorklist bool
	// Accession restricts the worklist query to one accession number.
	Accession string
	// Subject, when set with NoWorklist, is used instead of an invented one.
	Subject *Subject

	// Timeout bounds each C-STORE (send and response); default 5 min.
	Timeout time.Duration
	// MaxPDU is the maximum PDU length we accept; 0: the listener's default.
	MaxPDU uint32
	Dial   func(ctx context.Context, addr string) (net.Conn, error)
	Logger *slog.Logger
	// OnGenerated, when set, is called once the series are generated,
	// just before the timed part starts.
	OnGenerated func(*Series)
}

// Run plays the scanner: C-ECHO, worklist, generation of the series, then
// C-STORE over cfg.Assocs associations, timed from the first storage
// A-ASSOCIATE-RQ to the last C-STORE-RSP. It returns an error only for a
// configuration that cannot run; what happened on the wire is in the
// Report. Cancelling ctx aborts the associations and returns the partial
// report (Interrupted set).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.CalledAE == "" {
		cfg.CalledAE = DefaultCalledAE
	}
	if cfg.CallingAE == "" {
		cfg.CallingAE = DefaultCallingAE
	}
	if cfg.Kind == "" {
		cfg.Kind = Kinds[0].Name
	}
	kind, ok := LookupKind(cfg.Kind)
	if !ok {
		return nil, fmt.Errorf("unknown kind %q (want one of %v)", cfg.Kind, KindNames())
	}
	if cfg.Modality != "" {
		kind.Modality = cfg.Modality
	}
	cfg.Count = max(cfg.Count, 1)
	cfg.Assocs = max(cfg.Assocs, 1)
	switch {
	case len(cfg.CalledAE) > 16 || len(cfg.CallingAE) > 16:
		return nil, errors.New("AE titles are at most 16 characters")
	case cfg.Count > MaxCount:
		return nil, fmt.Errorf("count is at most %d", MaxCount)
	case cfg.Slices < 0 || cfg.Slices > MaxSlices:
		return nil, fmt.Errorf("slices must be 1 to %d", MaxSlices)
	case cfg.Assocs > MaxAssocs:
		return nil, fmt.Errorf("assocs is at most %d", MaxAssocs)
	case cfg.Rows < 0 || cfg.Cols < 0 || cfg.Rows > 0xFFFF || cfg.Cols > 0xFFFF:
		return nil, errors.New("rows and cols must be 1 to 65535")
	case cfg.MultiFrame && !kind.volume:
		return nil, fmt.Errorf("multi-frame applies to the CT kinds (ct, cbct), not %s", kind.Name)
	}
	switch cfg.Charset {
	case "", "ISO_IR 192":
		cfg.Charset = "ISO_IR 192"
	case "ISO_IR 144":
	default:
		return nil, fmt.Errorf("charset %q: want ISO_IR 192 or ISO_IR 144", cfg.Charset)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rep := &Report{Addr: cfg.Addr, CalledAE: cfg.CalledAE, CallingAE: cfg.CallingAE, Kind: kind.Name, Assocs: cfg.Assocs,
		Statuses: map[string]int64{}, Echo: "skipped", NoWorklist: cfg.NoWorklist}

	// The scanner's morning: C-ECHO, then the worklist.
	var subj Subject
	switch {
	case cfg.NoWorklist && cfg.Subject != nil:
		subj = *cfg.Subject
	case cfg.NoWorklist:
		subj = InventedSubject(kind)
	}
	if !cfg.NoEcho || !cfg.NoWorklist {
		item, err := preflight(ctx, cfg, kind, rep)
		if err != nil {
			if !cfg.NoEcho && rep.Echo == "skipped" {
				rep.Echo = "not done"
			}
			rep.fatal(ctx, err)
			return rep, nil
		}
		if item != nil {
			subj = item.Subject
		}
	}
	rep.Accession, rep.PatientID, rep.StudyInstanceUID = subj.AccessionNumber, subj.PatientID, subj.StudyInstanceUID

	genStart := time.Now()
	series, err := Generate(subj, SeriesOptions{Kind: kind, Slices: cfg.Slices, Rows: cfg.Rows, Cols: cfg.Cols, Count: cfg.Count,
		JPEGLossless: cfg.JPEGLossless, MultiFrame: cfg.MultiFrame, Charset: cfg.Charset, StationAE: cfg.CallingAE})
	if err != nil {
		return nil, err
	}
	rep.Generation = time.Since(genStart)
	rep.SOPClass, rep.Instances, rep.Series = series.SOPClass, len(series.Instances), cfg.Count
	if cfg.OnGenerated != nil {
		cfg.OnGenerated(series)
	}
	if ctx.Err() != nil {
		rep.Interrupted = true
		rep.NotSent = int64(len(series.Instances))
		return rep, nil
	}
	send(ctx, cfg, series, rep)
	return rep, nil
}

// preflight runs C-ECHO and the worklist query on one association.
func preflight(ctx context.Context, cfg Config, kind Kind, rep *Report) (*WorklistItem, error) {
	var pcs []dul.PresentationContext
	services := []string{dul.ExplicitVRLittleEndian, dul.ImplicitVRLittleEndian}
	if !cfg.NoEcho {
		pcs = append(pcs, dul.PresentationContext{AbstractSyntax: dul.VerificationSOPClass, TransferSyntaxes: services})
	}
	if !cfg.NoWorklist {
		pcs = append(pcs, dul.PresentationContext{AbstractSyntax: dul.ModalityWorklistFind, TransferSyntaxes: services})
	}
	c, err := associate(ctx, cfg, pcs)
	if err != nil {
		return nil, err
	}
	defer c.Release(context.WithoutCancel(ctx))
	if !cfg.NoEcho {
		if err := c.Echo(ctx); err != nil {
			rep.Echo = "failed: " + err.Error()
			return nil, fmt.Errorf("C-ECHO: %w", err)
		}
		rep.Echo = "ok"
	}
	if cfg.NoWorklist {
		return nil, nil
	}
	items, status, err := QueryWorklist(ctx, c, cfg.CallingAE, kind.Modality, cfg.Accession)
	rep.WorklistItems = len(items)
	if err != nil {
		return nil, fmt.Errorf("worklist C-FIND: %w", err)
	}
	if status != dul.StatusSuccess {
		return nil, fmt.Errorf("worklist C-FIND: final status 0x%04X", status)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("worklist empty for Scheduled Station AE Title %s, modality %s (schedule an order for it, or use -no-worklist)", cfg.CallingAE, kind.Modality)
	}
	return &items[0], nil
}

func associate(ctx context.Context, cfg Config, pcs []dul.PresentationContext) (*dul.Client, error) {
	conn, err := cfg.Dial(ctx, cfg.Addr)
	if err != nil {
		return nil, err
	}
	return dul.Associate(ctx, conn, dul.ClientConfig{CallingAE: cfg.CallingAE, CalledAE: cfg.CalledAE, Contexts: pcs,
		MaxPDULength: cfg.MaxPDU, Logger: cfg.Logger})
}

// send stores the series' instances over cfg.Assocs associations, each
// taking the next instance not yet taken.
func send(ctx context.Context, cfg Config, s *Series, rep *Report) {
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	var syntaxes sync.Map
	start := time.Now()
	pcs := []dul.PresentationContext{{AbstractSyntax: s.SOPClass, TransferSyntaxes: s.Syntaxes}}
	total := int64(len(s.Instances))
	for range cfg.Assocs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := associate(ctx, cfg, pcs)
			if err != nil {
				rep.addError(ctx, &mu, fmt.Errorf("A-ASSOCIATE: %w", err))
				return
			}
			defer c.Release(context.WithoutCancel(ctx))
			ts, ok := c.TransferSyntax(s.SOPClass)
			if !ok {
				rep.addError(ctx, &mu, fmt.Errorf("%w: the peer accepted no transfer syntax of %v for %s", dul.ErrNoContext, s.Syntaxes, s.SOPClass))
				return
			}
			syntaxes.Store(ts, true)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				in := s.Instances[i]
				r, err := in.Reader(ts)
				if err != nil {
					rep.addError(ctx, &mu, err)
					return
				}
				cr := &countingReader{r: r}
				sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				t0 := time.Now()
				status, comment, err := c.Store(sctx, in.SOPClassUID, in.SOPInstanceUID, ts, cr)
				d := time.Since(t0)
				cancel()
				mu.Lock()
				rep.Bytes += cr.n
				if err == nil {
					rep.Sent++
					lat = append(lat, d)
					rep.record(status, comment)
					rep.lastResponse = time.Now()
				}
				mu.Unlock()
				if err != nil {
					rep.addError(ctx, &mu, fmt.Errorf("C-STORE %d: %w", i+1, err))
					return // the association is gone
				}
			}
		}()
	}
	wg.Wait()
	end := rep.lastResponse
	if end.IsZero() {
		end = time.Now()
	}
	rep.Elapsed = end.Sub(start)
	syntaxes.Range(func(k, _ any) bool {
		rep.TransferSyntaxes = append(rep.TransferSyntaxes, k.(string))
		return true
	})
	sort.Strings(rep.TransferSyntaxes)
	if ctx.Err() != nil {
		rep.Interrupted = true
	}
	rep.NotSent = total - rep.Sent - rep.lost
	if rep.NotSent < 0 {
		rep.NotSent = 0
	}
	rep.Latency = simulators.Summarize(lat)
	if secs := rep.Elapsed.Seconds(); secs > 0 {
		rep.InstancesPerSec = float64(rep.Sent) / secs
		rep.MBPerSec = float64(rep.Bytes) / 1e6 / secs
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
