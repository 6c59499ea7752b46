package hl7

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
	"github.com/medgate/medgate/simulators"
)

// Defaults for Config's zero-valued fields.
const (
	DefaultAddr       = "127.0.0.1:2575"
	DefaultTimeout    = 10 * time.Second
	DefaultOversize   = 17 << 20
	DefaultSplitBytes = 16
	DefaultSplitPause = time.Millisecond
	DefaultQueryWait  = time.Second
)

// Config is one simulator run. The zero value sends one ORU^R01 to
// 127.0.0.1:2575.
type Config struct {
	Addr string // default DefaultAddr
	// Kind is what to send (see Kinds); ignored when Replay is set.
	Kind string
	// Params is the template for every message: MSH-3/4/5/6, charset,
	// enhanced mode, barcode, patient ID, the query trigger of kind qry.
	// ControlID and Seq are set per message.
	Params Params
	// Replay, when set, is sent instead of generated messages, cycling
	// when Count exceeds it. MSH-10 is rewritten to a unique control ID
	// unless KeepIDs; MSH-3/4 are rewritten only when Params.App/Facility
	// are set.
	Replay  [][]byte
	KeepIDs bool

	Variant Variant
	// OversizeBytes is the size of an oversize message; default 17 MiB.
	OversizeBytes int
	// SplitBytes and SplitPause shape split-frames writes.
	SplitBytes int
	SplitPause time.Duration

	// Rate is messages per second over all connections; 0 is as fast as
	// the receiver answers.
	Rate  float64
	Conns int // parallel connections, default 1
	// Count bounds the messages sent; Duration bounds the time spent
	// starting new ones. With neither, Count is 1 (or the replay's length).
	Count    int
	Duration time.Duration
	// Timeout is how long to wait for each answer; default 10s.
	Timeout time.Duration
	// Expect, when set, makes any other MSA-1 a failure.
	Expect string
	// IDPrefix starts every control ID; default DefaultIDPrefix(), so IDs
	// are unique per run and across runs (prefix + counter).
	IDPrefix string
	// QueryWait is how long query mode keeps reading after an answer for
	// further messages (DSR^Q03 and the like), each of which it ACKs.
	QueryWait time.Duration
	// OnAnswer, when set, receives every answer (query mode prints them).
	OnAnswer func(Answer)
	// Dial connects; default net.Dialer.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// Answer is what came back for one message: the ACK (or query
// response) and, in query mode, the messages that followed it.
type Answer struct {
	ControlID string
	Frames    [][]byte
}

type runner struct {
	cfg     Config
	info    VariantInfo
	charset string
	start   time.Time
	stopAt  time.Time
	next    atomic.Int64
	mu      sync.Mutex
	rep     *Report
	lat     []time.Duration
	samples map[string]bool
	reasons map[string]bool

	templates templates
}

// Run sends messages as cfg says and checks every answer. It returns an
// error only for a configuration that cannot run; everything that
// happens on the wire is in the Report. Cancelling ctx stops the run and
// returns the partial report (Interrupted set).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Kind == "" {
		cfg.Kind = "oru"
	}
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.OversizeBytes <= 0 {
		cfg.OversizeBytes = DefaultOversize
	}
	if cfg.SplitBytes <= 0 {
		cfg.SplitBytes = DefaultSplitBytes
	}
	if cfg.SplitPause <= 0 {
		cfg.SplitPause = DefaultSplitPause
	}
	if cfg.QueryWait <= 0 {
		cfg.QueryWait = DefaultQueryWait
	}
	if cfg.Count < 0 || cfg.Duration < 0 || cfg.Rate < 0 {
		return nil, errors.New("count, duration and rate must not be negative")
	}
	if cfg.Count == 0 && cfg.Duration == 0 {
		cfg.Count = max(len(cfg.Replay), 1)
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = DefaultIDPrefix()
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	info, err := LookupVariant(string(cfg.Variant))
	if err != nil {
		return nil, err
	}
	if len(cfg.Replay) > 0 && cfg.Variant == WrongCharset {
		return nil, errors.New("variant wrong-charset generates its messages; it cannot be used with a replay file")
	}
	cs := cfg.Params.Charset
	if cs == "" {
		cs = "utf-8"
	}
	if _, err := MSH18For(cs); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, info: info, charset: cs, samples: map[string]bool{}, reasons: map[string]bool{}}
	kind := cfg.Kind
	if isQuery(kind) && cfg.Params.QueryTrigger != "" {
		kind += " (QRY^" + strings.ToUpper(cfg.Params.QueryTrigger) + ")"
	}
	if len(cfg.Replay) > 0 {
		kind = fmt.Sprintf("replay of %d message(s)", len(cfg.Replay))
	}
	r.rep = &Report{Addr: cfg.Addr, Kind: kind, Variant: string(cfg.Variant), Conns: cfg.Conns, Acked: map[string]int64{}, Expect: cfg.Expect}
	// Fail on a bad kind before touching the network.
	if _, _, err := r.message(0, cfg.Params); err != nil {
		return nil, err
	}

	r.start = time.Now()
	if cfg.Duration > 0 {
		r.stopAt = r.start.Add(cfg.Duration)
	}
	var wg sync.WaitGroup
	for range cfg.Conns {
		wg.Go(func() { r.worker(ctx) })
	}
	wg.Wait()
	rep := r.rep
	rep.Elapsed = time.Since(r.start)
	rep.Interrupted = ctx.Err() != nil
	rep.Latency = simulators.Summarize(r.lat)
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.Throughput = float64(rep.AckedTotal()) / s
	}
	return rep, nil
}

// DefaultIDPrefix is the start time in milliseconds and two random
// characters, base 36, then "-": at most 11 characters, leaving MSH-10's
// 20 for a counter up to 999,999,999.
func DefaultIDPrefix() string {
	return strings.ToUpper(strconv.FormatInt(time.Now().UnixMilli(), 36)+strconv.FormatInt(1296+rand.Int64N(1296), 36)[1:]) + "-"
}

// claim returns the index of the next message to send once its rate slot
// has come, or false when the run is over.
func (r *runner) claim(ctx context.Context) (int, bool) {
	if ctx.Err() != nil || r.over(time.Now()) {
		return 0, false
	}
	i := int(r.next.Add(1) - 1)
	if r.cfg.Count > 0 && i >= r.cfg.Count {
		return 0, false
	}
	if r.cfg.Rate > 0 {
		at := r.start.Add(time.Duration(float64(i) / r.cfg.Rate * float64(time.Second)))
		if r.over(at) {
			return 0, false
		}
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return 0, false
			case <-t.C:
			}
		}
	}
	return i, true
}

func (r *runner) over(t time.Time) bool { return !r.stopAt.IsZero() && !t.Before(r.stopAt) }

func (r *runner) controlID(i int) string { return r.cfg.IDPrefix + strconv.Itoa(i+1) }

// message returns message i, encoded, with its control ID.
func (r *runner) message(i int, p Params) ([]byte, string, error) {
	if n := len(r.cfg.Replay); n > 0 {
		msg := r.cfg.Replay[i%n]
		id := MSHField(msg, 10)
		if !r.cfg.KeepIDs {
			id = r.controlID(i)
			msg = SetMSHField(msg, 10, id)
		}
		if r.cfg.Params.App != "" {
			msg = SetMSHField(msg, 3, r.cfg.Params.App)
		}
		if r.cfg.Params.Facility != "" {
			msg = SetMSHField(msg, 4, r.cfg.Params.Facility)
		}
		return msg, id, nil
	}
	id := r.controlID(i)
	b, err := r.templates.message(r.cfg.Kind, p, i, id)
	return b, id, err
}

// build prepares exchange i.
func (r *runner) build(i int) (*wire, error) {
	p := r.cfg.Params
	if r.cfg.Variant == WrongCharset {
		p = WrongCharsetParams(p)
	}
	msg, id, err := r.message(i, p)
	if err != nil {
		return nil, err
	}
	w := &wire{controlID: id, wantMSA2: id, closeAfter: r.info.Closes}
	if r.info.EmptyMSA2 {
		w.wantMSA2 = ""
	}
	switch r.cfg.Variant {
	case BadMSH:
		msg = MakeBadMSH(msg)
	case NoMSH10:
		msg, w.controlID = MakeNoMSH10(msg), ""
	case Oversize:
		msg = MakeOversize(msg, r.cfg.OversizeBytes)
		w.concurrent = true
	case TruncatedFrame:
		// The truncated message carries its own (never answered) ID.
		first := SetMSHField(msg, 10, id+"T")
		b, err := MakeTruncated(first, msg)
		if err != nil {
			return nil, err
		}
		w.writes = [][]byte{b}
		return w, nil
	}
	f, err := Frame(msg)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", id, err)
	}
	switch r.cfg.Variant {
	case GarbageBetweenFrames:
		w.writes = [][]byte{append(bytes.Clone(Garbage), f...)}
	case SplitFrames:
		w.writes, w.pause = Split(f, r.cfg.SplitBytes), r.cfg.SplitPause
	default:
		w.writes = [][]byte{f}
	}
	return w, nil
}

type conn struct {
	c    net.Conn
	rd   *mllp.Reader
	wr   *mllp.Writer
	stop func() bool
}

func (c *conn) close() {
	c.stop()
	c.c.Close()
}

func (r *runner) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	nc, err := r.cfg.Dial(dctx, r.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// Interrupting the run unblocks reads and writes at once.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return &conn{c: nc, rd: mllp.NewReader(nc), wr: mllp.NewWriter(nc), stop: stop}, nil
}

func (r *runner) worker(ctx context.Context) {
	var c *conn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	backoff := time.Duration(0)
	for {
		i, ok := r.claim(ctx)
		if !ok {
			return
		}
		w, err := r.build(i)
		if err != nil {
			r.fail(&r.rep.Errors, err.Error())
			continue
		}
		if c == nil {
			if c, err = r.dial(ctx); err != nil {
				c = nil
				if ctx.Err() != nil {
					return
				}
				r.fail(&r.rep.Errors, "connect: "+err.Error())
				backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
				sleep(ctx, backoff)
				continue
			}
			backoff = 0
		}
		if !r.exchange(ctx, c, w) || w.closeAfter {
			c.close()
			c = nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *runner) fail(counter *int64, sample string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*counter++
	if len(r.samples) < 5 && !r.samples[sample] {
		r.samples[sample] = true
		r.rep.ErrorSamples = append(r.rep.ErrorSamples, sample)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exchange writes one message and reads its answer. It returns false
// when the connection cannot be trusted for another message.
func (r *runner) exchange(ctx context.Context, c *conn, w *wire) bool {
	begin := time.Now()
	var pauses time.Duration
	if len(w.writes) > 1 {
		pauses = time.Duration(len(w.writes)) * w.pause
	}
	c.c.SetWriteDeadline(begin.Add(r.cfg.Timeout + pauses))
	write := func() error {
		for j, b := range w.writes {
			if j > 0 && w.pause > 0 {
				time.Sleep(w.pause)
			}
			if _, err := c.c.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	var wdone chan error
	if w.concurrent {
		// An oversize frame is answered before it is fully written and
		// the connection closed: read while writing so the answer is
		// not lost to the reset.
		wdone = make(chan error, 1)
		go func() { wdone <- write() }()
	} else if err := write(); err != nil {
		if ctx.Err() != nil {
			return false
		}
		r.fail(&r.rep.Errors, "write: "+err.Error())
		return false
	}
	r.mu.Lock()
	r.rep.Sent++
	r.mu.Unlock()
	if ctx.Err() == nil {
		c.c.SetReadDeadline(time.Now().Add(r.cfg.Timeout))
	}
	frame, err := c.rd.ReadMessage()
	lat := time.Since(begin)
	if wdone != nil {
		if err != nil {
			<-wdone // a closed connection ends the write too
		} else {
			c.c.Close() // the receiver closes anyway; stop writing
			<-wdone
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.mu.Lock()
		r.rep.Unanswered++
		r.mu.Unlock()
		return false
	case isTimeout(err):
		r.fail(&r.rep.Timeouts, fmt.Sprintf("no answer within %s", r.cfg.Timeout))
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isReset(err):
		r.fail(&r.rep.Closed, "connection closed before the answer: "+err.Error())
		return false
	default:
		r.fail(&r.rep.Errors, "read: "+err.Error())
		return false
	}
	code, msa2, reason, ok := ReadMSA(frame, r.charset)
	if !ok {
		r.fail(&r.rep.Errors, fmt.Sprintf("answer without an MSA segment (%d bytes)", len(frame)))
		return false
	}
	if msa2 != w.wantMSA2 {
		r.fail(&r.rep.Mismatched, fmt.Sprintf("MSA-2 %q answered the message with MSH-10 %q", msa2, w.controlID))
		return false
	}
	frames := [][]byte{frame}
	if isQuery(r.cfg.Kind) {
		frames = append(frames, r.followUps(c)...)
	}
	r.mu.Lock()
	r.rep.Acked[code]++
	r.lat = append(r.lat, lat)
	expect := r.cfg.Expect
	if expect != "" && code != expect {
		r.rep.Unexpected++
	}
	if code != "AA" && code != "CA" && reason != "" {
		if len(r.reasons) < 5 && !r.reasons[reason] {
			r.reasons[reason] = true
			r.rep.NackReasons = append(r.rep.NackReasons, code+": "+reason)
		}
	}
	r.mu.Unlock()
	if r.cfg.OnAnswer != nil {
		r.cfg.OnAnswer(Answer{ControlID: w.controlID, Frames: frames})
	}
	return true
}

func isReset(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}

// isQuery reports query mode: kind qry sends an order query (QRY^Q02 or
// QRY^R02) and reads what follows its answer.
func isQuery(kind string) bool {
	return strings.EqualFold(kind, "qry") || strings.EqualFold(kind, "query")
}

// followUps reads the messages a query's answer is followed by (DSR^Q03
// with the orders, as Mindray hosts send after QCK^Q02; none after an
// ORF^R04), until QueryWait passes without one, and acknowledges each that
// is not itself an acknowledgment.
func (r *runner) followUps(c *conn) [][]byte {
	var out [][]byte
	for {
		c.c.SetReadDeadline(time.Now().Add(r.cfg.QueryWait))
		f, err := c.rd.ReadMessage()
		if err != nil {
			return out
		}
		out = append(out, f)
		m, err := hl7.Parse(f, parseOpts(r.charset))
		if err != nil {
			continue
		}
		if t := m.MSH().MessageType(); t.Code == "ACK" || t.Code == "QCK" {
			continue
		}
		ack := hl7.BuildACK(m, hl7.Ack{Code: "AA", ControlID: r.cfg.IDPrefix + "A" + strconv.Itoa(len(out)), Time: time.Now()})
		c.c.SetWriteDeadline(time.Now().Add(r.cfg.Timeout))
		if err := c.wr.WriteMessage(ack.Encode()); err != nil {
			return out
		}
	}
}

func parseOpts(charset string) hl7.Options {
	o := hl7.Options{DefaultCharset: charset, MaxSize: -1}
	o.Lenient.UnknownCharset = true
	o.Lenient.UnescapedDelimiters = true
	return o
}

// ReadMSA returns MSA-1, MSA-2 and the reason (MSA-3, else the first
// ERR's user message or diagnostic) of an answer. A frame the parser
// refuses is still read for its MSA segment byte by byte, so that a
// badly encoded answer is still matched by its control ID.
func ReadMSA(frame []byte, charset string) (code, controlID, reason string, ok bool) {
	if m, err := hl7.Parse(frame, parseOpts(charset)); err == nil {
		if s := m.Segment("MSA"); s != nil {
			a := hl7.MSA{Segment: s}
			reason = a.Text()
			if e := m.Segment("ERR"); e != nil && reason == "" {
				er := hl7.ERR{Segment: e}
				reason = er.UserMessage()
				if reason == "" {
					reason = er.DiagnosticInformation()
				}
			}
			return strings.TrimSpace(a.AckCode()), a.ControlID(), reason, true
		}
		return "", "", "", false
	}
	fs := byte('|')
	if len(frame) > 3 && bytes.HasPrefix(frame, []byte("MSH")) {
		fs = frame[3]
	}
	for _, line := range bytes.FieldsFunc(frame, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if bytes.HasPrefix(line, []byte("MSA")) && len(line) > 3 && line[3] == fs {
			parts := strings.Split(string(line), string(fs))
			get := func(i int) string {
				if i < len(parts) {
					return parts[i]
				}
				return ""
			}
			return strings.TrimSpace(get(1)), get(2), get(3), true
		}
	}
	return "", "", "", false
}

// SplitMessages splits a file of messages into messages: line ends \n
// and \r\n become \r; a message starts at each MSH and ends at a blank
// line or the next MSH; batch envelope segments (FHS, BHS, BTS, FTS) are
// dropped. Lines before the first MSH form a message of their own, so a
// deliberately broken file is replayed as it is.
func SplitMessages(data []byte) [][]byte {
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\r"))
	data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r"))
	var out [][]byte
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, line := range bytes.Split(data, []byte("\r")) {
		switch {
		case len(bytes.TrimSpace(line)) == 0:
			flush()
			continue
		case hasSegID(line, "FHS"), hasSegID(line, "BHS"), hasSegID(line, "BTS"), hasSegID(line, "FTS"):
			flush()
			continue
		case hasSegID(line, "MSH"):
			flush()
		}
		cur = append(cur, line...)
		cur = append(cur, '\r')
	}
	flush()
	return out
}

func hasSegID(line []byte, id string) bool {
	return bytes.HasPrefix(line, []byte(id)) && (len(line) == 3 || len(line) > 3 && line[3] < 0x80 && !isAlnum(line[3]))
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}
