package mllp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/parsers/hl7"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("mllp: server closed")

// Defaults for the Server's zero-valued fields.
const (
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxConns     = 256
)

// Server accepts MLLP connections and acknowledges every message once
// Handler has returned ("ack after storage").
//
// For each frame it reads the MSH segment (hl7.ParseHeader), builds a
// listeners.Envelope (Raw is the frame's exact bytes) and calls Handler.
// The answer is built with hl7.BuildACK, MSA-2 = MSH-10 and the trigger
// echoed:
//
//   - nil: AA
//   - *listeners.InvalidError: AE with an ERR segment carrying the reason
//     (AR, ERR code 200, when Unsupported)
//   - listeners.ErrUnknownDevice: AR "sending application not recognized"
//   - listeners.ErrUnavailable and any other error: AR, retry later
//
// When MSH-15 is AL, NE, ER or SU the message is in enhanced mode and the
// answer is the commit acknowledgment (CA, CE, CR), sent or not as MSH-15
// asks (NE never, ER only on error, SU only on success). Any other MSH-15
// (empty, or junk some analyzers send) means original mode. The
// application acknowledgment of enhanced mode is not sent by the Server.
//
// When Handler also implements listeners.Responder, Respond is called
// instead of Handle; a non-nil answer it returns (an HL7 query's QCK^Q02
// and DSR^Q03, or a QRY^R02's ORF^R04) is sent in place of the ACK, each message in its own
// frame, whatever MSH-15 says. An answer's start or end block bytes are
// replaced with '?' as in ACKs.
//
// An inbound acknowledgment (MSH-9 ACK, such as the ACK^Q03 an analyzer
// sends for a DSR^Q03) is given to Handler, so it is stored like any other
// message, but never answered: acknowledgments are not acknowledged.
//
// A frame whose MSH cannot be read at all is answered with AR carrying the
// parse error (no MSA-2 when there is no MSH-10) and is not given to
// Handler. A frame larger than MaxMessageSize is answered with AR (MSA-2
// from its prefix when its MSH can be read), not given to Handler, and the
// connection is closed.
//
// Logs carry peers, sizes, control IDs, message types and error classes,
// never field values or the reasons handlers return.
type Server struct {
	// Handler is given every readable message. Required.
	Handler listeners.Handler
	// Logger receives connection and message events; nil discards them.
	Logger *slog.Logger
	// Name identifies the listener in envelopes; "" means
	// "mllp <listen address>".
	Name string
	// IdleTimeout closes a connection that sends nothing for that long
	// (a read deadline per frame); 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one acknowledgment; 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// AckMode, if set, names the acknowledgement mode the sending device
	// is pinned to ("original", "enhanced"; "" follows MSH-15), for
	// analyzers that misuse MSH-15/16.
	AckMode func(ctx context.Context, env *listeners.Envelope) string
	// MaxMessageSize limits a frame's content; 0 means DefaultMaxSize.
	MaxMessageSize int
	// MaxConns limits concurrent connections; more are accepted and
	// closed at once. 0 means DefaultMaxConns.
	MaxConns int
	// DefaultCharset is the charset used to read MSH when MSH-18 is empty
	// ("" means UTF-8); see hl7.Options.
	DefaultCharset string
	// AckApplication and AckFacility, when set, are the ACK's MSH-3/4;
	// by default the request's MSH-5/6 are used.
	AckApplication hl7.HD
	AckFacility    hl7.HD

	conns      listeners.Conns
	ackSeq     atomic.Uint64
	ackPrefix  string
	prefixOnce sync.Once
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Serve accepts connections on ln and serves each in its own goroutine
// until Shutdown (ErrServerClosed), ctx is cancelled (ctx.Err(); ln and all
// connections are closed) or Accept fails. ctx is the parent of the
// context given to Handler. Serve closes ln when it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Handler == nil {
		return errors.New("mllp: Server.Handler is nil")
	}
	done, ok := s.conns.Listen(ctx, ln)
	if !ok {
		return ErrServerClosed
	}
	defer done()

	name := s.Name
	if name == "" {
		name = "mllp " + ln.Addr().String()
	}
	log := s.logger().With("listener", name)
	maxConns := orDefault(s.MaxConns, DefaultMaxConns)
	for {
		c, err := s.conns.Accept(ctx, ln, log)
		if errors.Is(err, listeners.ErrShutdown) {
			return ErrServerClosed
		}
		if err != nil {
			return err
		}
		if !s.conns.Track(c, maxConns) {
			log.Warn("too many connections; closing new one", "peer", c.RemoteAddr().String(), "max", maxConns)
			c.Close()
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		go s.serveConn(ctx, c, name, log.With("peer", c.RemoteAddr().String()))
	}
}

// Shutdown stops accepting, lets each connection finish the message it is
// handling (its Handle call and its acknowledgment), then closes it;
// connections waiting for a message, or in the middle of receiving one,
// are closed at once (the sender has no ACK and resends). It returns when
// all connections are closed, or ctx.Err() after closing them all when
// ctx ends first (Handle calls still running are not waited for).
func (s *Server) Shutdown(ctx context.Context) error {
	s.conns.Shut()
	// A connection waiting in Read is unblocked; one inside Handle is not
	// affected and closes after its ACK.
	return s.conns.Drain(ctx, func(c net.Conn) { c.SetReadDeadline(time.Now()) })
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, name string, log *slog.Logger) {
	defer func() {
		c.Close()
		s.conns.Untrack(c)
	}()
	log.Debug("connection opened")
	idle := orDefault(s.IdleTimeout, DefaultIdleTimeout)
	writeTimeout := orDefault(s.WriteTimeout, DefaultWriteTimeout)
	rd := NewReader(c)
	rd.MaxSize = orDefault(s.MaxMessageSize, DefaultMaxSize)
	wr := NewWriter(c)
	write := func(msgs ...[]byte) bool {
		for _, m := range msgs {
			if m == nil {
				continue
			}
			c.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := wr.WriteMessage(m); err != nil {
				log.Warn("writing ACK failed", "err", err)
				return false
			}
		}
		return true
	}
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		if s.conns.Closing() || ctx.Err() != nil {
			return
		}
		frame, err := rd.ReadMessage()
		if err != nil {
			var tl *TooLargeError
			var ne net.Error
			switch {
			case errors.As(err, &tl):
				log.Warn("message too large; its start is kept, closing", "limit", tl.Limit, "kept", len(tl.Prefix))
				s.keepPrefix(ctx, tl, name, c.RemoteAddr().String(), log)
				write(s.tooLargeAck(tl))
			case s.conns.Closing() || ctx.Err() != nil:
				log.Debug("connection closed by shutdown")
			case errors.As(err, &ne) && ne.Timeout():
				log.Info("idle timeout; closing", "idle", idle, "partial_frame", rd.Buffered())
			default:
				log.Debug("connection closed", "err", err, "skipped_bytes", rd.Skipped())
			}
			return
		}
		if !write(s.handleFrame(ctx, frame, time.Now(), name, c.RemoteAddr().String(), log)...) {
			return
		}
	}
}

// handleFrame gives one frame to the Handler and returns the messages to
// send back: the encoded ACK, a Responder's answer, or none.
func (s *Server) handleFrame(ctx context.Context, frame []byte, received time.Time, name, peer string, log *slog.Logger) [][]byte {
	req, err := hl7.ParseHeader(frame, hl7.Options{DefaultCharset: s.DefaultCharset, MaxSize: -1})
	if err != nil {
		log.Warn("unreadable MSH; answering AR", "size", len(frame), "err", err)
		e := hl7.AckErrorFor(err)
		return [][]byte{s.ack(nil, "AR", "message header unreadable: "+err.Error(), e)}
	}
	msh := req.MSH()
	env := &listeners.Envelope{
		Protocol:           listeners.HL7,
		Listener:           name,
		Peer:               peer,
		Received:           received,
		SendingApplication: hdName(msh.SendingApplication()),
		SendingFacility:    hdName(msh.SendingFacility()),
		Key:                msh.ControlID(),
		Type:               msh.MessageType().String(),
		Raw:                frame,
	}
	log = log.With("control_id", env.Key, "type", env.Type, "size", len(frame))
	start := time.Now()
	var herr error
	var answer [][]byte
	if r, ok := s.Handler.(listeners.Responder); ok {
		answer, herr = r.Respond(ctx, env)
	} else {
		herr = s.Handler.Handle(ctx, env)
	}
	if msh.MessageType().Code == "ACK" {
		lvl := slog.LevelDebug
		if herr != nil {
			lvl = slog.LevelWarn
		}
		log.Log(ctx, lvl, "acknowledgment received; not answered", "stored", herr == nil, "took", time.Since(start))
		return nil
	}
	if herr == nil && answer != nil {
		log.Info("message handled; answered", "messages", len(answer), "took", time.Since(start))
		for i, b := range answer {
			answer[i] = unframe(b)
		}
		return answer
	}

	code, text, class := "AA", "", "ok"
	var errs []hl7.AckError
	var inv *listeners.InvalidError
	switch {
	case herr == nil:
	case errors.As(herr, &inv):
		code, text, class = "AE", inv.Reason, "invalid "+inv.Stage
		e := hl7.AckError{Code: 207, Severity: "E", Text: inv.Reason}
		if inv.Err != nil { // the parser's error: its segment, field and table 0357 code
			e = hl7.AckErrorFor(inv.Err)
			e.Text = inv.Reason
		}
		if inv.Unsupported {
			code, e.Code, class = "AR", 200, "unsupported"
		}
		errs = append(errs, e)
	case errors.Is(herr, listeners.ErrUnknownDevice):
		code, text, class = "AR", "sending application not recognized", "unknown device"
		errs = append(errs, hl7.AckError{Code: 207, Severity: "E", Text: text})
	case errors.Is(herr, listeners.ErrUnavailable):
		code, text, class = "AR", "temporarily unable to store the message; retry later", "unavailable"
		errs = append(errs, hl7.AckError{Code: 207, Severity: "E", Text: text})
	default:
		code, text, class = "AR", "internal error; message not stored, retry later", "internal"
		errs = append(errs, hl7.AckError{Code: 207, Severity: "E", Text: text})
	}

	mode := msh.AcceptAckType()
	if s.AckMode != nil {
		// The device's profile overrides what its MSH-15 says.
		switch s.AckMode(ctx, env) {
		case "original":
			mode = ""
		case "enhanced":
			if mode != "AL" && mode != "NE" && mode != "ER" && mode != "SU" {
				mode = "AL"
			}
		}
	}
	enhanced := false
	switch mode {
	case "AL", "NE", "ER", "SU":
		enhanced = true
		code = "C" + code[1:]
		if mode == "NE" || (mode == "ER" && herr == nil) || (mode == "SU" && herr != nil) {
			log.Info("message handled; no ACK (MSH-15)", "result", class, "ack_mode", mode, "took", time.Since(start))
			return nil
		}
	}
	lvl := slog.LevelInfo
	if herr != nil {
		lvl = slog.LevelWarn
	}
	log.Log(ctx, lvl, "message handled", "result", class, "ack", code, "enhanced", enhanced, "took", time.Since(start))
	return [][]byte{s.ack(req, code, text, errs...)}
}

// keepPrefix hands the start of an oversize frame to the Handler, marked
// Truncated, so that the bytes are kept for review ("raw first, forever");
// the answer stays AR whatever the Handler says.
func (s *Server) keepPrefix(ctx context.Context, tl *TooLargeError, name, peer string, log *slog.Logger) {
	if len(tl.Prefix) == 0 {
		return
	}
	env := &listeners.Envelope{Protocol: listeners.HL7, Listener: name, Peer: peer, Received: time.Now(),
		Raw: tl.Prefix, Truncated: true}
	if req, err := hl7.ParseHeader(tl.Prefix, hl7.Options{DefaultCharset: s.DefaultCharset, MaxSize: -1}); err == nil {
		msh := req.MSH()
		env.SendingApplication = hdName(msh.SendingApplication())
		env.SendingFacility = hdName(msh.SendingFacility())
		env.Key = msh.ControlID()
		env.Type = msh.MessageType().String()
	}
	if err := s.Handler.Handle(ctx, env); err != nil {
		class := "error"
		switch {
		case errors.Is(err, listeners.ErrUnknownDevice):
			class = "unknown device"
		case errors.Is(err, listeners.ErrUnavailable):
			class = "unavailable"
		}
		log.Warn("start of an oversize message not kept", "class", class)
	}
}

func (s *Server) tooLargeAck(tl *TooLargeError) []byte {
	req, err := hl7.ParseHeader(tl.Prefix, hl7.Options{DefaultCharset: s.DefaultCharset, MaxSize: -1})
	if err != nil {
		req = nil
	}
	text := fmt.Sprintf("message larger than %d bytes", tl.Limit)
	code := "AR"
	if req != nil {
		switch req.MSH().AcceptAckType() {
		case "AL", "NE", "ER", "SU":
			code = "CR"
		}
	}
	return s.ack(req, code, text, hl7.AckError{Code: 207, Severity: "E", Text: text})
}

func (s *Server) ack(req *hl7.Message, code, text string, errs ...hl7.AckError) []byte {
	s.prefixOnce.Do(func() {
		s.ackPrefix = "MG" + strconv.FormatInt(time.Now().Unix(), 36)
	})
	a := hl7.Ack{
		Code:               code,
		ControlID:          s.ackPrefix + strconv.FormatUint(s.ackSeq.Add(1), 36),
		Time:               time.Now(),
		Text:               text,
		Errors:             errs,
		SendingApplication: s.AckApplication,
		SendingFacility:    s.AckFacility,
	}
	// The ACK must not break its own frame; it echoes request bytes.
	return unframe(hl7.BuildACK(req, a).Encode())
}

// unframe replaces the frame bytes in b, in place, so that b fits in one
// frame.
func unframe(b []byte) []byte {
	for i, c := range b {
		if c == StartBlock || c == EndBlock {
			b[i] = '?'
		}
	}
	return b
}

// hdName is the text used to find a device: HD-1, else HD-2.
func hdName(h hl7.HD) string {
	if h.NamespaceID != "" {
		return h.NamespaceID
	}
	return h.UniversalID
}
