package mllp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
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
	// MaxBatchMessages is the most messages a batch in one frame may
	// hold; a larger batch is refused whole (AR), before any is handled,
	// so that a frame of tiny messages cannot make an answer many times
	// its size.
	MaxBatchMessages = 10000
)

// Server accepts MLLP connections and acknowledges every message once
// Handler has returned ("ack after storage").
//
// For each frame it reads the MSH segment (hl7.ParseHeader), builds a
// listeners.Envelope (Raw is the frame's exact bytes; Key all of MSH-10)
// and calls Handler.
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
// asks (NE never, ER only on error, SU only on success). When MSH-15 asks
// for none, the application acknowledgment (AA, AE, AR) is sent instead
// if MSH-16 asks for it: NE/AL is original mode said explicitly. Any other
// MSH-15 (empty, or junk some analyzers send) means original mode. One
// message gets at most one answer: with AL/AL only the commit
// acknowledgment is sent. AckMode pins a device to one mode whatever its
// MSH-15/16 say: "original" always gets AA/AE/AR, "enhanced" always
// CA/CE/CR.
//
// A frame holding a batch (FHS/BHS … BTS/FTS) is taken message by
// message, each handled and answered as if it had come alone, and the
// answers go back in one response batch: the batch's FHS/BHS with sender
// and receiver swapped and FHS-12/BHS-12 naming the batch answered, the
// answers, BTS-1 their count (HL7 v2 2.10.3).
//
// When Handler also implements listeners.Responder, Respond is called
// instead of Handle; a non-nil answer it returns (an HL7 query's QCK^Q02
// and DSR^Q03, or a QRY^R02's ORF^R04) is sent in place of the ACK, each
// message in its own frame (in the response batch for a message of a
// batch), whatever MSH-15 says. An answer's start or end block bytes are
// replaced with '?' as in ACKs.
//
// An inbound acknowledgment (MSH-9 ACK, such as the ACK^Q03 an analyzer
// sends for a DSR^Q03) is given to Handler, so it is stored like any other
// message, but never answered: acknowledgments are not acknowledged.
//
// A frame whose MSH cannot be read at all is answered with AR carrying the
// parse error (no MSA-2 when there is no MSH-10) and is not given to
// Handler. A frame larger than MaxMessageSize is answered with AR (CR in
// enhanced mode, nothing when MSH-15/16 ask for no answer; MSA-2 from its
// prefix when its MSH can be read), its start given to Handler marked
// Truncated, and the connection is closed.
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
	// is pinned to ("original": always AA/AE/AR; "enhanced": always
	// CA/CE/CR; "" follows MSH-15/16), for analyzers that misuse
	// MSH-15/16.
	AckMode func(ctx context.Context, env *listeners.Envelope) string
	// MaxMessageSize limits a frame's content; 0 means DefaultMaxSize.
	MaxMessageSize int
	// MaxConns limits concurrent connections; more are accepted and
	// closed at once. 0 means DefaultMaxConns.
	MaxConns int
	// Charset, if set, names the configured encoding of the device a
	// message comes from ("" when unknown). When MSH-18 is empty the MSH is
	// read again in it, so that a Windows-1251 device's Cyrillic
	// MSH-4 finds its device and the ACK goes back in the device's
	// encoding.
	Charset func(ctx context.Context, env *listeners.Envelope) string
	// DefaultCharset is the charset used to read MSH when MSH-18 is empty
	// ("" means UTF-8); see hl7.Options.
	DefaultCharset string
	// AckApplication and AckFacility, when set, are the ACK's MSH-3/4;
	// by default the request's MSH-5/6 are used.
	AckApplication hl7.HD
	AckFacility    hl7.HD

	conns  listeners.Conns
	ackIDs hl7.ControlIDs // the answers' MSH-10
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
				write(s.refuseTooLarge(ctx, tl, name, c.RemoteAddr().String(), log))
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
// send back: the encoded ACK, a Responder's answer, or none; for a batch,
// one response batch; for several bare messages in one frame, each
// message's own answer in order.
func (s *Server) handleFrame(ctx context.Context, frame []byte, received time.Time, name, peer string, log *slog.Logger) [][]byte {
	if hl7.IsBatch(frame) {
		return s.handleBatch(ctx, frame, received, name, peer, log)
	}
	msgs := hl7.SplitMessages(frame)
	if len(msgs) == 1 {
		return s.handleMessage(ctx, frame, received, name, peer, log)
	}
	if len(msgs) > MaxBatchMessages {
		text := fmt.Sprintf("frame of %d messages; at most %d are taken in one frame", len(msgs), MaxBatchMessages)
		log.Warn("too many messages in one frame; answering AR", "messages", len(msgs), "size", len(frame))
		return [][]byte{s.ack(nil, "AR", text, hl7.AckError{Code: 207, Severity: "E", Text: text})}
	}
	log.Info("several messages in one frame", "messages", len(msgs), "size", len(frame))
	var answers [][]byte
	for _, m := range msgs {
		answers = append(answers, s.handleMessage(ctx, m, received, name, peer, log)...)
	}
	return answers
}

// handleBatch takes a batch (FHS/BHS … BTS/FTS) message by message, each as
// if it had come in its own frame, and answers with one response batch
// holding what each message's answer is (HL7 v2 2.10.3: all messages
// acknowledged in the response batch, as their MSH-15/16 ask).
func (s *Server) handleBatch(ctx context.Context, frame []byte, received time.Time, name, peer string, log *slog.Logger) [][]byte {
	b, err := hl7.SplitBatch(frame, hl7.Options{DefaultCharset: s.DefaultCharset, MaxSize: -1})
	if err != nil {
		log.Warn("unreadable batch; answering AR", "size", len(frame), "err", err)
		return [][]byte{s.ack(nil, "AR", "batch unreadable: "+err.Error(), hl7.AckErrorFor(err))}
	}
	if len(b.Messages) > MaxBatchMessages {
		text := fmt.Sprintf("batch of %d messages; at most %d are taken in one frame", len(b.Messages), MaxBatchMessages)
		log.Warn("batch too large; answering AR", "messages", len(b.Messages), "size", len(frame))
		return [][]byte{unframe(hl7.BuildBatchACK(b, [][]byte{s.ack(nil, "AR", text, hl7.AckError{Code: 207, Severity: "E", Text: text})},
			s.ackIDs.Next(), time.Now()))}
	}
	log.Info("batch received", "messages", len(b.Messages), "size", len(frame))
	var answers [][]byte
	for _, m := range b.Messages {
		answers = append(answers, s.handleMessage(ctx, m, received, name, peer, log)...)
	}
	return [][]byte{unframe(hl7.BuildBatchACK(b, answers, s.ackIDs.Next(), time.Now()))}
}

// handleMessage gives one message to the Handler and returns the messages
// to send back: the encoded ACK, a Responder's answer, or none.
func (s *Server) handleMessage(ctx context.Context, frame []byte, received time.Time, name, peer string, log *slog.Logger) [][]byte {
	req, env, err := s.readHeader(ctx, frame, name, peer, received)
	if err != nil {
		log.Warn("unreadable MSH; answering AR", "size", len(frame), "err", err)
		e := hl7.AckErrorFor(err)
		return [][]byte{s.ack(nil, "AR", "message header unreadable: "+err.Error(), e)}
	}
	msh := req.MSH()
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

	// The commit outcome (enhanced mode) speaks only to safe storage: a
	// message kept with a content error is committed (CA), its error
	// going in the application ACK.
	commit := "CA"
	switch {
	case herr == nil:
	case inv != nil && !inv.Unsupported:
	case inv != nil || errors.Is(herr, listeners.ErrUnknownDevice):
		commit = "CR"
	default:
		commit = "CE"
	}
	codes := s.answerCodes(ctx, msh, env, code, commit)
	if len(codes) == 0 {
		log.Info("message handled; no ACK (MSH-15/16)", "result", class, "accept_ack", msh.AcceptAckType(),
			"app_ack", msh.AppAckType(), "took", time.Since(start))
		return nil
	}
	lvl := slog.LevelInfo
	if herr != nil {
		lvl = slog.LevelWarn
	}
	log.Log(ctx, lvl, "message handled", "result", class, "ack", strings.Join(codes, "+"), "took", time.Since(start))
	out := make([][]byte, 0, len(codes))
	for _, c := range codes {
		if c == "CA" {
			out = append(out, s.ack(req, c, ""))
		} else {
			out = append(out, s.ack(req, c, text, errs...))
		}
	}
	return out
}

// readHeader reads a message's MSH — again in the sending device's
// encoding when MSH-18 is empty and Charset knows it — and returns it with
// the message's envelope.
func (s *Server) readHeader(ctx context.Context, frame []byte, name, peer string, received time.Time) (*hl7.Message, *listeners.Envelope, error) {
	req, err := hl7.ParseHeader(frame, hl7.Options{DefaultCharset: s.DefaultCharset, MaxSize: -1})
	if err != nil {
		return nil, nil, err
	}
	env := envelopeOf(req, frame, name, peer, received)
	if s.Charset == nil || req.MSH().CharacterSet() != "" {
		return req, env, nil
	}
	// Read again only when the device names a charset other than the one
	// just used.
	enc := s.Charset(ctx, env)
	cs, ok := hl7.CanonicalCharset(enc)
	if enc == "" || !ok || cs == req.Charset {
		return req, env, nil
	}
	if again, err := hl7.ParseHeader(frame, hl7.Options{DefaultCharset: cs, MaxSize: -1}); err == nil {
		req, env = again, envelopeOf(again, frame, name, peer, received)
	}
	return req, env, nil
}

// envelopeOf is the envelope of a message whose MSH is read in req.
func envelopeOf(req *hl7.Message, frame []byte, name, peer string, received time.Time) *listeners.Envelope {
	msh := req.MSH()
	return &listeners.Envelope{
		Protocol:           listeners.HL7,
		Listener:           name,
		Peer:               peer,
		Received:           received,
		SendingApplication: hdName(msh.SendingApplication()),
		SendingFacility:    hdName(msh.SendingFacility()),
		Key:                controlID(msh),
		Type:               msh.MessageType().String(),
		Raw:                frame,
	}
}

// answerCodes are the ACKs due for a message whose application outcome is
// app (AA, AE, AR) and commit outcome commit (CA, CE, CR). Original mode
// (MSH-15 empty or unknown, or a device pinned "original"): the
// application ACK. Enhanced mode (HL7 v2 2.9.3): the commit ACK when MSH-15
// asks for it (always for a device pinned "enhanced"), then, once the
// message is committed, the application ACK when MSH-16 asks for it (never
// for a pinned device, which is pinned for misusing these fields); both on
// the connection, in that order.
func (s *Server) answerCodes(ctx context.Context, msh hl7.MSH, env *listeners.Envelope, app, commit string) []string {
	pinned := ""
	if s.AckMode != nil {
		pinned = s.AckMode(ctx, env)
	}
	due := func(cond string, failed bool) bool {
		return cond == "AL" || (cond == "ER" && failed) || (cond == "SU" && !failed)
	}
	accept := msh.AcceptAckType()
	switch {
	case pinned == "original":
		return []string{app}
	case pinned == "enhanced":
		return []string{commit}
	case accept != "AL" && accept != "NE" && accept != "ER" && accept != "SU":
		return []string{app}
	}
	var codes []string
	if due(accept, commit != "CA") {
		codes = append(codes, commit)
	}
	if commit == "CA" && due(msh.AppAckType(), app != "AA") {
		codes = append(codes, app)
	}
	return codes
}

// controlID is MSH-10 whole, escapes decoded: a separator the sender left
// unescaped in it stays part of the key.
func controlID(msh hl7.MSH) string { return msh.Field(10).Text() }

// refuseTooLarge hands the start of an oversize frame to the Handler,
// marked Truncated, so that the bytes are kept for review ("raw first,
// forever"), and returns the refusal: AR (CR in enhanced mode) whatever the
// Handler says, or nil when MSH-15/16 or the device profile ask for no
// answer.
func (s *Server) refuseTooLarge(ctx context.Context, tl *TooLargeError, name, peer string, log *slog.Logger) []byte {
	text := fmt.Sprintf("message larger than %d bytes", tl.Limit)
	refusal := hl7.AckError{Code: 207, Severity: "E", Text: text}
	if len(tl.Prefix) == 0 {
		return s.ack(nil, "AR", text, refusal)
	}
	req, env, err := s.readHeader(ctx, tl.Prefix, name, peer, time.Now())
	if err != nil {
		req, env = nil, &listeners.Envelope{Protocol: listeners.HL7, Listener: name, Peer: peer, Received: time.Now(), Raw: tl.Prefix}
	}
	env.Truncated = true
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
	code := "AR"
	if req != nil {
		codes := s.answerCodes(ctx, req.MSH(), env, code, "CR") // not committed: only its start is kept
		if len(codes) == 0 {
			return nil
		}
		code = codes[0]
	}
	return s.ack(req, code, text, refusal)
}

func (s *Server) ack(req *hl7.Message, code, text string, errs ...hl7.AckError) []byte {
	a := hl7.Ack{
		Code:               code,
		ControlID:          s.ackIDs.Next(),
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
