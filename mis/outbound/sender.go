// Package outbound sends the HL7 order queue (store.OutboundStore) to the
// devices that receive orders, over an MLLP client connection.
//
// The store writes a queued message in the transaction that creates,
// activates or cancels a lab order. The Sender builds its bytes once,
// before the first attempt (mapping.BuildOrderMessage: ORM^O01, the tests
// in the device's own codes) and stores them, so that every retry sends
// the same bytes with the same MSH-10. Each device's messages go in id
// order, one at a time, over one connection reused while there is work.
//
// A message is marked sent only when an acknowledgment arrives whose MSA-2
// equals its MSH-10; it is never matched by position. Any other frame on
// the connection (an ACK for another control ID, an unsolicited message)
// is logged and ignored while the wait goes on until AckTimeout. Outcomes:
//
//   - AA, CA: sent.
//   - AE, CE: failed at once, with the ACK's text and ERR segments as the
//     last error. The device read the message and found it wrong; sending
//     the same bytes again would fail the same way, and a failed head must
//     not hold the device's later orders back. A person fixes the cause
//     (code map, patient data) and re-enters the order.
//   - AR, CR: retried with backoff, up to MaxRejects attempts, then failed.
//     HL7 means a reject as "could not process now" (busy, not ready,
//     down for maintenance), which a later attempt may get past; the cap
//     keeps a permanent reject from blocking the device's queue forever.
//   - no connection, connection closed, no matching ACK within AckTimeout:
//     retried with exponential backoff (MinBackoff doubling per attempt,
//     capped at MaxBackoff), without limit — a device switched off over a
//     weekend gets its orders when it comes back. The connection is
//     dropped, so a late ACK cannot be confused with the next message's.
//
// Delivery is at least once: an ACK lost with the connection means the
// message is sent again with the same control ID, by which the device can
// recognise the resend. Run one Sender per database.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/parsers/hl7"
)

// Defaults of the Sender's zero fields.
const (
	DefaultPoll           = time.Second
	DefaultAckTimeout     = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMinBackoff     = 2 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultMaxRejects     = 10
	DefaultIdleClose      = time.Minute
)

// ErrNoAck is an attempt that got no matching acknowledgment in time.
var ErrNoAck = errors.New("no ACK with a matching MSA-2 in time")

// Store is what the Sender needs of the store.
type Store interface {
	store.OutboundStore
	GetDevice(ctx context.Context, orgs []int64, id int64) (*domain.Device, error)
	GetServiceRequest(ctx context.Context, orgs []int64, id int64) (*domain.ServiceRequest, error)
	GetPatient(ctx context.Context, orgs []int64, id int64) (*domain.Patient, error)
	GetCodeMap(ctx context.Context, org int64, name string) (*domain.CodeMap, error)
}

// Sender delivers queued order messages to devices. Zero fields take the
// defaults above; fields must not change once Run has started.
type Sender struct {
	Store  Store
	Logger *slog.Logger
	// Location is the clinic's time zone for the timestamps written in
	// messages (nil: time.Local).
	Location *time.Location
	// Poll is how often the queue is read while idle (see Notify).
	Poll time.Duration
	// AckTimeout bounds the wait for the ACK of one message;
	// ConnectTimeout a connection.
	AckTimeout     time.Duration
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before a retry: MinBackoff
	// doubled per attempt already made, at most MaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxRejects is how many attempts a message refused with AR/CR gets
	// before it is failed.
	MaxRejects int
	// IdleClose closes a device's connection after that long without
	// messages to send.
	IdleClose time.Duration
	// Dial opens a connection (tests, TLS); nil: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	wakeOnce sync.Once
	wake     chan struct{}

	mu        sync.Mutex
	workers   map[int64]chan struct{} // device → its worker's wake channel
	lastErr   string
	lastErrAt time.Time

	sent, failed, retries, connects atomic.Uint64
}

// Stats is a snapshot of a Sender's counters.
type Stats struct {
	Sent        uint64    // messages acknowledged (AA, CA)
	Failed      uint64    // messages given up (AE, CE, rejects past MaxRejects, unbuildable)
	Retries     uint64    // failed attempts that will be retried
	Connects    uint64    // connections opened
	Devices     int       // devices with a worker now
	LastError   string    // the latest failure, without patient data
	LastErrorAt time.Time // when it happened
}

// Stats returns the Sender's counters. Safe for concurrent use.
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Sent: s.sent.Load(), Failed: s.failed.Load(), Retries: s.retries.Load(), Connects: s.connects.Load(),
		Devices: len(s.workers), LastError: s.lastErr, LastErrorAt: s.lastErrAt}
}

// Notify wakes the Sender to read the queue now rather than at the next
// poll. It never blocks and may be called before or without Run.
func (s *Sender) Notify() {
	select {
	case s.wakeC() <- struct{}{}:
	default:
	}
}

func (s *Sender) wakeC() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

func (s *Sender) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func or[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

func (s *Sender) loc() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.Local
}

// Run sends queued messages until ctx ends, then waits for its device
// workers to stop and returns nil. Store and device failures are logged
// and retried, never returned.
func (s *Sender) Run(ctx context.Context) error {
	if s.Store == nil {
		return errors.New("outbound: Sender.Store is nil")
	}
	s.mu.Lock()
	s.workers = map[int64]chan struct{}{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	wake := s.wakeC()
	poll := time.NewTicker(or(s.Poll, DefaultPoll))
	defer poll.Stop()
	s.log().Info("outbound: sending queued orders to devices")
	for {
		devs, err := s.Store.OutboundDevices(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("read the queue: %w", err))
			s.log().Warn("outbound: reading the queue failed", "err", err)
		}
		s.mu.Lock()
		for _, d := range devs {
			if w, ok := s.workers[d]; ok {
				select {
				case w <- struct{}{}:
				default:
				}
				continue
			}
			w := make(chan struct{}, 1)
			s.workers[d] = w
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.device(ctx, d, w)
				s.mu.Lock()
				delete(s.workers, d)
				s.mu.Unlock()
			}()
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
	}
}

func (s *Sender) fail(err error) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
	s.mu.Unlock()
}

// conn is an MLLP client connection to one device.
type conn struct {
	c    net.Conn
	rd   *mllp.Reader
	wr   *mllp.Writer
	stop func() bool
}

func (c *conn) close() {
	if c != nil {
		c.stop()
		c.c.Close()
	}
}

// device sends one device's queue, head first, until it is empty for
// IdleClose or ctx ends.
func (s *Sender) device(ctx context.Context, id int64, wake chan struct{}) {
	log := s.log().With("device_id", id)
	var cn *conn
	defer func() { cn.close() }()
	idle := time.Now()
	for ctx.Err() == nil {
		m, err := s.Store.NextOutbound(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			if time.Since(idle) >= or(s.IdleClose, DefaultIdleClose) {
				return
			}
			if cn == nil {
				return // nothing to keep open
			}
			if !sleep(ctx, wake, or(s.Poll, DefaultPoll)) {
				return
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("outbound: reading the queue failed", "err", err)
				s.fail(err)
			}
			sleep(ctx, wake, or(s.Poll, DefaultPoll))
			return
		}
		if wait := time.Until(m.NextAttempt); wait > 0 {
			// The head is waiting for its retry; the ones behind it wait too.
			if cn != nil && wait > or(s.IdleClose, DefaultIdleClose) {
				cn.close()
				cn = nil
			}
			if !sleep(ctx, nil, wait) {
				return
			}
			continue
		}
		dev, err := s.Store.GetDevice(ctx, nil, id)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("outbound: reading the device failed", "err", err)
				s.fail(err)
			}
			return
		}
		log := log.With("device", dev.Name, "control_id", m.ControlID, "order_control", m.OrderControl)
		if reason := unreachable(dev); reason != "" {
			s.finish(ctx, log, m, false, "", reason)
			continue
		}
		if m.Raw == nil {
			if m, err = s.build(ctx, m, dev); err != nil {
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, store.ErrNotFound) {
					s.finish(ctx, log, m, false, "", "cannot build the message: "+err.Error())
					continue
				}
				log.Warn("outbound: building the message failed", "err", err)
				s.fail(err)
				sleep(ctx, wake, or(s.Poll, DefaultPoll))
				continue
			}
		}
		if cn == nil {
			addr := net.JoinHostPort(dev.Transport.Host, strconv.Itoa(dev.Transport.Port))
			if cn, err = s.dial(ctx, addr); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.retry(ctx, log, m, "", "connect: "+err.Error())
				continue
			}
			s.connects.Add(1)
			log.Info("outbound: connected", "addr", addr)
		}
		code, text, err := s.exchange(ctx, cn, m, dev, log)
		if ctx.Err() != nil {
			return // the outcome is unknown: the message stays pending, resent later
		}
		if err != nil {
			cn.close()
			cn = nil
			s.retry(ctx, log, m, "", err.Error())
			continue
		}
		idle = time.Now()
		switch code {
		case "AA", "CA":
			s.finish(ctx, log, m, true, code, "")
		case "AE", "CE":
			s.finish(ctx, log, m, false, code, text)
		default: // AR, CR, and codes a device made up
			if m.Attempts+1 >= or(s.MaxRejects, DefaultMaxRejects) {
				s.finish(ctx, log, m, false, code, text+" (rejected "+strconv.Itoa(m.Attempts+1)+" times)")
			} else {
				s.retry(ctx, log, m, code, text)
			}
		}
	}
}

// unreachable says why a device can no longer be sent orders, or "".
func unreachable(d *domain.Device) string {
	switch {
	case !d.Active:
		return "the device is inactive"
	case !d.ReceivesOrders:
		return "the device no longer receives orders"
	case d.Transport == nil || d.Transport.Host == "" || d.Transport.Port <= 0:
		return "the device has no host and port to send to"
	}
	return ""
}

// sleep waits d, or until wake fires or ctx ends; false when ctx ended.
func sleep(ctx context.Context, wake chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// build makes and stores the message's bytes; bytes stored first win.
func (s *Sender) build(ctx context.Context, m *store.OutboundMessage, dev *domain.Device) (*store.OutboundMessage, error) {
	orgs := []int64{m.OrganizationID}
	order, err := s.Store.GetServiceRequest(ctx, orgs, m.RequestID)
	if err != nil {
		return m, err
	}
	patient, err := s.Store.GetPatient(ctx, orgs, order.PatientID)
	if err != nil {
		return m, err
	}
	var cm *domain.CodeMap
	if dev.CodeMap != "" {
		if cm, err = s.Store.GetCodeMap(ctx, dev.OrganizationID, dev.CodeMap); err != nil && !errors.Is(err, store.ErrNotFound) {
			return m, err
		}
	}
	raw := mapping.BuildOrderMessage(mapping.OrderMessage{Type: m.Type, Control: m.OrderControl, ControlID: m.ControlID,
		Time: time.Now().In(s.loc()), Order: order, Patient: patient, Device: dev, CodeMap: cm})
	return s.Store.SetOutboundRaw(ctx, m.ID, raw)
}

func (s *Sender) dial(ctx context.Context, addr string) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, or(s.ConnectTimeout, DefaultConnectTimeout))
	defer cancel()
	dial := s.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// Cancellation unblocks a read or write in progress.
	return &conn{c: c, rd: mllp.NewReader(c), wr: mllp.NewWriter(c), stop: context.AfterFunc(ctx, func() { c.Close() })}, nil
}

// exchange sends m and waits for the ACK whose MSA-2 is m's control ID. It
// returns MSA-1 and the refusal's text; an error means no such ACK came
// (the connection is then unusable).
func (s *Sender) exchange(ctx context.Context, cn *conn, m *store.OutboundMessage, dev *domain.Device, log *slog.Logger) (string, string, error) {
	timeout := or(s.AckTimeout, DefaultAckTimeout)
	deadline := time.Now().Add(timeout)
	cn.c.SetWriteDeadline(deadline)
	if err := cn.wr.WriteMessage(m.Raw); err != nil {
		return "", "", fmt.Errorf("send: %w", err)
	}
	cn.c.SetReadDeadline(deadline)
	opts := mapping.HL7Options(dev, s.loc())
	for {
		frame, err := cn.rd.ReadMessage()
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				return "", "", fmt.Errorf("%w (%v)", ErrNoAck, timeout)
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				return "", "", errors.New("connection closed by the device before the ACK")
			}
			return "", "", fmt.Errorf("read ACK: %w", err)
		}
		msg, err := hl7.Parse(frame, opts)
		if err != nil {
			log.Warn("outbound: unreadable frame while waiting for the ACK; ignored", "size", len(frame), "err", err)
			continue
		}
		seg := msg.Segment("MSA")
		if seg == nil {
			log.Warn("outbound: a message that is not an ACK arrived while waiting for the ACK; ignored",
				"type", msg.MSH().MessageType().String(), "its_control_id", msg.MSH().ControlID())
			continue
		}
		msa := hl7.MSA{Segment: seg}
		if got := msa.ControlID(); got != m.ControlID {
			log.Warn("outbound: ACK for another control ID; ignored", "msa2", got)
			continue
		}
		code := strings.ToUpper(strings.TrimSpace(msa.AckCode()))
		return code, ackText(msg, msa), nil
	}
}

// ackText is what a refusal says: MSA-3 and each ERR's message, code and
// location.
func ackText(msg *hl7.Message, msa hl7.MSA) string {
	var parts []string
	if t := strings.TrimSpace(msa.Text()); t != "" {
		parts = append(parts, t)
	}
	for _, seg := range msg.All("ERR") {
		e := hl7.ERR{Segment: seg}
		var p []string
		for _, t := range []string{e.UserMessage(), e.DiagnosticInformation()} {
			if t = strings.TrimSpace(t); t != "" {
				p = append(p, t)
			}
		}
		if c := e.Code(); c.Code != "" || c.Text != "" {
			p = append(p, strings.TrimSpace("code "+c.Code+" "+c.Text))
		}
		for _, l := range e.Locations() {
			if l.Segment != "" {
				p = append(p, fmt.Sprintf("at %s-%d", l.Segment, l.Field))
			}
		}
		for _, l := range e.CodeAndLocation() {
			if l.Segment != "" || l.Code.Code != "" {
				p = append(p, strings.TrimSpace(fmt.Sprintf("at %s-%d code %s %s", l.Segment, l.Field, l.Code.Code, l.Code.Text)))
			}
		}
		if len(p) > 0 {
			parts = append(parts, strings.Join(p, ", "))
		}
	}
	if len(parts) == 0 {
		return "refused without a reason"
	}
	return strings.Join(parts, "; ")
}

// markCtx outlives cancellation: an outcome learnt must be recorded.
func markCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

func (s *Sender) finish(ctx context.Context, log *slog.Logger, m *store.OutboundMessage, ok bool, code, reason string) {
	mctx, cancel := markCtx(ctx)
	defer cancel()
	// Counted before the mark, as retries are: whoever sees the outcome in
	// the store then sees it in Stats too.
	var err error
	if ok {
		s.sent.Add(1)
		err = s.Store.MarkOutboundSent(mctx, m.ID, code)
		log.Info("outbound: message acknowledged", "ack", code, "attempts", m.Attempts+1)
	} else {
		s.failed.Add(1)
		err = s.Store.MarkOutboundFailed(mctx, m.ID, code, reason)
		s.fail(fmt.Errorf("message %s failed: %s", m.ControlID, logReason(code, reason)))
		log.Warn("outbound: message failed; not retried", "ack", code, "attempts", m.Attempts+1, "reason", logReason(code, reason))
	}
	if err != nil {
		log.Error("outbound: recording the outcome failed", "err", err)
		s.fail(err)
	}
}

func (s *Sender) retry(ctx context.Context, log *slog.Logger, m *store.OutboundMessage, code, reason string) {
	backoff := or(s.MinBackoff, DefaultMinBackoff)
	maxB := or(s.MaxBackoff, DefaultMaxBackoff)
	for i := 0; i < m.Attempts && backoff < maxB; i++ {
		backoff *= 2
	}
	backoff = min(backoff, maxB)
	mctx, cancel := markCtx(ctx)
	defer cancel()
	s.retries.Add(1)
	s.fail(fmt.Errorf("message %s: %s", m.ControlID, logReason(code, reason)))
	log.Warn("outbound: attempt failed; will retry", "ack", code, "attempts", m.Attempts+1, "reason", logReason(code, reason), "retry_in", backoff)
	if err := s.Store.MarkOutboundRetry(mctx, m.ID, code, reason, time.Now().Add(backoff)); err != nil {
		log.Error("outbound: recording the attempt failed", "err", err)
		s.fail(err)
	}
}

// logReason keeps a device's own refusal text out of the log (it may quote
// the message); the stored last error has it.
func logReason(code, reason string) string {
	if code != "" {
		return "refused by the device (" + code + "); see the message's last error"
	}
	return reason
}
