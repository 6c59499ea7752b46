package dicom

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/medgate/medgate/listeners"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("dicom: server closed")

// Defaults for the Server's zero-valued fields.
const (
	DefaultAETitle         = "MEDGATE"
	DefaultMaxAssociations = 64
	DefaultMaxInstanceSize = 4 << 30
	DefaultARTIMTimeout    = 30 * time.Second
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultWriteTimeout    = 30 * time.Second
)

// maxIdentifierSize bounds a C-FIND identifier held in memory.
const maxIdentifierSize = 1 << 20

// Association is what handlers see of an association.
type Association struct {
	CallingAE, CalledAE    string
	Peer                   string // remote address
	ImplementationClassUID string // the peer's
	ImplementationVersion  string // the peer's
	MaxPDULength           uint32 // the peer's maximum PDU length (0: unlimited)
}

// FindRequest is one C-FIND request.
type FindRequest struct {
	Association    *Association
	SOPClassUID    string
	TransferSyntax string
	Priority       uint16
	// Identifier is the data set exactly as received, in TransferSyntax.
	Identifier []byte
}

// FindHandler answers C-FIND requests for one information model.
type FindHandler interface {
	// Find calls emit once per match with a response identifier already
	// encoded in req.TransferSyntax (a pending 0xFF00 response each), and
	// returns nil for the final success. ctx is cancelled when a C-CANCEL
	// arrives (then answer 0xFE00); emit fails after that. A returned
	// *StatusError becomes the final status with its comment (e.g. 0xA900
	// identifier does not match SOP class, 0xC000 unable to process); any
	// other error is answered 0xC000 with a generic comment.
	Find(ctx context.Context, req *FindRequest, emit func(identifier []byte) error) error
}

// FindHandlerFunc adapts a function to FindHandler.
type FindHandlerFunc func(ctx context.Context, req *FindRequest, emit func([]byte) error) error

// Find calls f.
func (f FindHandlerFunc) Find(ctx context.Context, req *FindRequest, emit func([]byte) error) error {
	return f(ctx, req, emit)
}

// Server is a DICOM SCP: Verification, Storage (C-STORE instances go to
// Handler as Part 10 files, acknowledged after Handle returns) and the
// Modality Worklist and Study Root C-FIND services when their handlers are
// set. See the package documentation for what is negotiated.
type Server struct {
	// AETitle is the called AE title this server answers to; others are
	// rejected (called AE title not recognized). "" means DefaultAETitle.
	AETitle string
	// Handler receives every stored instance. nil: storage presentation
	// contexts are rejected (abstract syntax not supported).
	Handler listeners.Handler
	// Acceptor, when set, decides on each association before it is
	// accepted: nil accepts; listeners.ErrUnknownDevice rejects it
	// permanently with "calling AE title not recognized"; any other error
	// rejects it transiently with no reason given.
	Acceptor func(ctx context.Context, a *Association) error
	// Worklist answers Modality Worklist Information Model – FIND; nil:
	// not offered.
	Worklist FindHandler
	// StudyRoot answers Study Root Query/Retrieve Information Model –
	// FIND; nil: not offered.
	StudyRoot FindHandler
	// StorageSOPClasses are the storage abstract syntaxes accepted; empty
	// means every class of StorageSOPClasses.
	StorageSOPClasses []string
	// TransferSyntaxes is the storage preference order; empty means
	// DefaultStorageTransferSyntaxes. Verification and FIND take Explicit
	// VR Little Endian, then Implicit VR Little Endian.
	TransferSyntaxes []string
	// MaxPDULength is the P-DATA-TF length announced and accepted (a
	// longer PDU aborts the association); 0 means DefaultMaxPDULength.
	MaxPDULength uint32
	// MaxAssociations limits concurrent associations; more are rejected
	// transiently. 0 means DefaultMaxAssociations.
	MaxAssociations int
	// MaxInstanceSize limits one instance's data set in bytes; a larger
	// one is read to its end, discarded and answered 0xA700. 0 means
	// DefaultMaxInstanceSize.
	MaxInstanceSize int64
	// ARTIMTimeout bounds the wait for the A-ASSOCIATE-RQ after connect
	// and for the peer to close after release or abort; 0 means
	// DefaultARTIMTimeout.
	ARTIMTimeout time.Duration
	// IdleTimeout aborts an association that starts no operation for that
	// long, or that sends nothing for that long in the middle of a command
	// or data set; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing one PDU; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// TempDir is where instances are streamed before Handle; "" means
	// os.TempDir(). It should be on the handler's store's filesystem so
	// the handler can rename the file.
	TempDir string
	// TLSConfig, when set, makes every accepted connection DICOM TLS.
	TLSConfig *tls.Config
	// Name identifies the listener in envelopes; "" means
	// "dicom <listen address>".
	Name string
	// Logger receives association and operation events (AE titles, UIDs,
	// sizes, statuses; never data set contents); nil discards them.
	Logger *slog.Logger

	conns      listeners.Conns
	mu         sync.Mutex // guards active
	active     int        // accepted associations
	shutdownCh chan struct{}
	initOnce   sync.Once
	storage    map[string]bool
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.shutdownCh = make(chan struct{})
		s.storage = map[string]bool{}
		if len(s.StorageSOPClasses) > 0 {
			for _, u := range s.StorageSOPClasses {
				s.storage[u] = true
			}
		} else {
			for _, c := range StorageSOPClasses {
				s.storage[c.UID] = true
			}
		}
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func orDefault[T int | int64 | uint32 | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

func (s *Server) aeTitle() string {
	if s.AETitle != "" {
		return s.AETitle
	}
	return DefaultAETitle
}

// Serve accepts connections on ln and serves each association in its own
// goroutine until Shutdown (ErrServerClosed), ctx is cancelled (ctx.Err();
// ln and all connections are closed at once) or Accept fails. ctx is the
// parent of the contexts given to the handlers. Serve closes ln when it
// returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.init()
	done, ok := s.conns.Listen(ctx, ln)
	if !ok {
		return ErrServerClosed
	}
	defer done()

	name := s.Name
	if name == "" {
		name = "dicom " + ln.Addr().String()
	}
	log := s.logger().With("listener", name)
	maxConns := 2*orDefault(s.MaxAssociations, DefaultMaxAssociations) + 16
	for {
		c, err := s.conns.Accept(ctx, ln, log)
		if errors.Is(err, listeners.ErrShutdown) {
			return ErrServerClosed
		}
		if err != nil {
			return err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		if !s.conns.Track(c, maxConns) {
			// Far past the association limit: not even a rejection.
			log.Warn("too many connections; closing new one", "peer", c.RemoteAddr().String())
			c.Close()
			continue
		}
		go s.serveConn(ctx, c, name, log.With("peer", c.RemoteAddr().String()))
	}
}

// Shutdown stops accepting, lets each association finish the operation it
// is performing (a C-STORE is received, handled and answered), then
// aborts it; idle associations are aborted at once. It returns when all
// connections are closed, or ctx.Err() after closing them all when ctx
// ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	if s.conns.Shut() {
		close(s.shutdownCh)
	}
	return s.conns.Drain(ctx, nil)
}

// scpConn is one association served.
type scpConn struct {
	s     *Server
	m     *machine
	d     *dimse
	log   *slog.Logger
	name  string
	assoc *Association
	pcs   map[byte]acceptedPC
}

type acceptedPC struct {
	abstract, transfer string
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, name string, log *slog.Logger) {
	counted := false
	raw := c
	defer func() {
		raw.Close()
		s.conns.Untrack(raw)
		if counted {
			s.mu.Lock()
			s.active--
			s.mu.Unlock()
		}
	}()
	artim := orDefault(s.ARTIMTimeout, DefaultARTIMTimeout)
	if s.TLSConfig != nil {
		tc := tls.Server(c, s.TLSConfig)
		tc.SetDeadline(time.Now().Add(artim))
		if err := tc.HandshakeContext(ctx); err != nil {
			log.Info("TLS handshake failed", "err", err)
			return
		}
		tc.SetDeadline(time.Time{})
		c = tc
	}
	m := newMachine(c, false, machineConfig{
		maxPDU:       orDefault(s.MaxPDULength, DefaultMaxPDULength),
		artim:        artim,
		writeTimeout: orDefault(s.WriteTimeout, DefaultWriteTimeout),
		log:          log,
	})
	defer func() {
		m.detach()
		// Wait for the peer to close (ARTIM bounds it), then make sure.
		select {
		case <-m.closed:
		case <-time.After(artim + time.Second):
		}
		m.closeNow(ErrAborted)
		<-m.readerDone
	}()
	m.startAcceptor()

	// Sta2: wait for the A-ASSOCIATE-RQ (the reader handles ARTIM).
	var rq *AssociateRQ
	select {
	case ind := <-m.ind:
		rq = ind.pdu.(*AssociateRQ)
	case <-m.ended:
		log.Info("no association", "err", m.err())
		return
	case <-s.shutdownCh:
		m.closeNow(ErrServerClosed)
		return
	}
	assoc := &Association{
		CallingAE:              rq.CallingAE,
		CalledAE:               rq.CalledAE,
		Peer:                   c.RemoteAddr().String(),
		ImplementationClassUID: rq.UserInfo.ImplementationClassUID,
		ImplementationVersion:  rq.UserInfo.ImplementationVersion,
		MaxPDULength:           rq.UserInfo.MaxPDULength,
	}
	log = log.With("calling_ae", rq.CallingAE, "called_ae", rq.CalledAE)
	if rj := s.checkAssociation(ctx, rq, assoc, &counted); rj != nil {
		log.Warn("association rejected", "result", rj.Result, "source", rj.Source, "reason", rj.Reason,
			"why", (&RejectError{rj.Result, rj.Source, rj.Reason}).ReasonText())
		m.local(evt8, rj)
		return
	}
	ac, pcs := s.negotiate(rq)
	if err := m.local(evt7, ac); err != nil {
		log.Info("association lost before accept", "err", err)
		return
	}
	log.Info("association accepted", "contexts", len(pcs), "peer_impl", assoc.ImplementationClassUID, "peer_max_pdu", assoc.MaxPDULength)
	sc := &scpConn{s: s, m: m, d: newDIMSE(m, rq.UserInfo.MaxPDULength), log: log, name: name, assoc: assoc, pcs: pcs}
	sc.d.stall = orDefault(s.IdleTimeout, DefaultIdleTimeout)
	err := sc.serve(ctx)
	switch {
	case errors.Is(err, ErrReleased):
		log.Info("association released")
	case errors.Is(err, ErrServerClosed):
		log.Info("association aborted by shutdown")
	default:
		log.Info("association ended", "err", err)
	}
}

// checkAssociation applies the rejection rules; a non-nil result rejects.
func (s *Server) checkAssociation(ctx context.Context, rq *AssociateRQ, a *Association, counted *bool) *AssociateRJ {
	if rq.ApplicationContext != ApplicationContext {
		return &AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectAppContextNotSupported}
	}
	if rq.CalledAE != s.aeTitle() {
		return &AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectCalledAENotRecognized}
	}
	if m := rq.UserInfo.MaxPDULength; m != 0 && m < minMaxPDULength {
		// No P-DATA-TF we could send would fit (PS3.8 D.1, E.1).
		return &AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectNoReason}
	}
	s.mu.Lock()
	if s.active >= orDefault(s.MaxAssociations, DefaultMaxAssociations) {
		s.mu.Unlock()
		return &AssociateRJ{Result: RejectTransient, Source: RejectSourceUser, Reason: RejectNoReason}
	}
	s.active++
	*counted = true
	s.mu.Unlock()
	if s.Acceptor != nil {
		if err := s.Acceptor(ctx, a); err != nil {
			// A rejected association gives its slot back at once, not when
			// its connection finally closes.
			s.mu.Lock()
			s.active--
			*counted = false
			s.mu.Unlock()
			if errors.Is(err, listeners.ErrUnknownDevice) {
				return &AssociateRJ{Result: RejectPermanent, Source: RejectSourceUser, Reason: RejectCallingAENotRecognized}
			}
			return &AssociateRJ{Result: RejectTransient, Source: RejectSourceUser, Reason: RejectNoReason}
		}
	}
	return nil
}

// negotiate answers each proposed presentation context and the user
// information sub-items.
func (s *Server) negotiate(rq *AssociateRQ) (*AssociateAC, map[byte]acceptedPC) {
	storageTS := s.TransferSyntaxes
	if len(storageTS) == 0 {
		storageTS = DefaultStorageTransferSyntaxes
	}
	ac := &AssociateAC{
		ProtocolVersion:    1,
		CalledAE:           rq.CalledAE,
		CallingAE:          rq.CallingAE,
		ApplicationContext: ApplicationContext,
		UserInfo: UserInfo{
			MaxPDULength:           orDefault(s.MaxPDULength, DefaultMaxPDULength),
			ImplementationClassUID: ImplementationClassUID,
			ImplementationVersion:  ImplementationVersionName,
		},
	}
	if rq.UserInfo.AsyncOps != nil {
		ac.UserInfo.AsyncOps = &AsyncOps{Invoked: 1, Performed: 1}
	}
	pcs := map[byte]acceptedPC{}
	for _, pc := range rq.PresentationContexts {
		var prefs []string
		switch {
		case pc.AbstractSyntax == VerificationSOPClass,
			pc.AbstractSyntax == ModalityWorklistFind && s.Worklist != nil,
			pc.AbstractSyntax == StudyRootFind && s.StudyRoot != nil:
			prefs = serviceTransferSyntaxes
		case s.Handler != nil && s.storage[pc.AbstractSyntax]:
			prefs = storageTS
		}
		r := ContextResult{ID: pc.ID, Result: ResultAbstractSyntaxNotSupported, TransferSyntax: pc.TransferSyntaxes[0]}
		if prefs != nil {
			r.Result = ResultTransferSyntaxesNotSupported
			for _, ts := range prefs {
				if slices.Contains(pc.TransferSyntaxes, ts) {
					r.Result, r.TransferSyntax = ResultAcceptance, ts
					break
				}
			}
		}
		if _, dup := pcs[pc.ID]; dup || pc.ID%2 == 0 {
			r.Result = ResultNoReason // presentation context IDs are odd and unique
		}
		if r.Result == ResultAcceptance {
			pcs[pc.ID] = acceptedPC{abstract: pc.AbstractSyntax, transfer: r.TransferSyntax}
		}
		ac.PresentationContexts = append(ac.PresentationContexts, r)
	}
	// Role selection: the requestor may be SCU of what we accepted; we
	// never take the SCU role ourselves (no C-GET storage). One answer
	// per SOP class (PS3.7 D.3.3.4), however often the requestor repeats
	// it: the answers must fit the user information item.
	answered := map[string]bool{}
	for _, role := range rq.UserInfo.Roles {
		if answered[role.SOPClassUID] {
			continue
		}
		for _, pc := range pcs {
			if pc.abstract == role.SOPClassUID {
				answered[role.SOPClassUID] = true
				ac.UserInfo.Roles = append(ac.UserInfo.Roles, RoleSelection{SOPClassUID: role.SOPClassUID, SCU: role.SCU, SCP: false})
				break
			}
		}
	}
	return ac, pcs
}

// serve runs DIMSE operations one at a time until the association ends.
func (sc *scpConn) serve(ctx context.Context) error {
	idle := orDefault(sc.s.IdleTimeout, DefaultIdleTimeout)
	for {
		if sc.s.conns.Closing() {
			sc.m.abort(SourceServiceUser, 0)
			return ErrServerClosed
		}
		t := time.NewTimer(idle)
		pc, cmd, err := sc.d.readCommand(waiter{stop: sc.s.shutdownCh, timeout: t.C})
		t.Stop()
		switch {
		case err == nil:
		case errors.Is(err, errStopped):
			if !sc.d.idle() {
				// Shutdown or idle timer in the middle of a command: keep
				// reading it; the check runs again after the operation.
				pc, cmd, err = sc.d.readCommand(waiter{})
				if err != nil {
					return sc.fail(err)
				}
				break
			}
			if sc.s.conns.Closing() {
				sc.m.abort(SourceServiceUser, 0)
				return ErrServerClosed
			}
			sc.log.Info("idle timeout; aborting association", "idle", idle)
			sc.m.abort(SourceServiceUser, 0)
			return fmt.Errorf("dicom: idle for %v", idle)
		case errors.Is(err, errReleaseRequest):
			sc.m.local(evt14, nil)
			return ErrReleased
		default:
			return sc.fail(err)
		}
		if err := sc.dispatch(ctx, pc, cmd); err != nil {
			return sc.fail(err)
		}
	}
}

// fail aborts the association on a DIMSE protocol error and returns err.
func (sc *scpConn) fail(err error) error {
	var de *dimseError
	var ce *CommandError
	if errors.As(err, &de) || errors.As(err, &ce) {
		sc.log.Warn("DIMSE protocol error; aborting", "err", err)
		sc.m.abort(SourceServiceUser, 0)
	}
	return err
}

func (sc *scpConn) dispatch(ctx context.Context, pc byte, cmd *Command) error {
	ds := sc.d.dataSet()
	apc, ok := sc.pcs[pc]
	if !ok {
		return &dimseError{fmt.Sprintf("%s on presentation context %d, which was not accepted", cmd, pc)}
	}
	switch cmd.Field {
	case CEchoRQ:
		if err := ds.Discard(); err != nil {
			return err
		}
		status := StatusSuccess
		if cmd.AffectedSOPClassUID != apc.abstract {
			status = StatusSOPClassNotSupported
		}
		return sc.respond(ctx, pc, &Command{Field: CEchoRSP, AffectedSOPClassUID: cmd.AffectedSOPClassUID, MessageIDBeingRespondedTo: cmd.MessageID, Status: status}, nil)
	case CStoreRQ:
		return sc.store(ctx, pc, apc, cmd, ds)
	case CFindRQ:
		return sc.find(ctx, pc, apc, cmd, ds)
	case CCancelRQ:
		// A C-CANCEL for an operation already answered: nothing to do.
		sc.log.Debug("C-CANCEL for no running operation", "msg", cmd.MessageIDBeingRespondedTo)
		return ds.Discard()
	}
	if err := ds.Discard(); err != nil {
		return err
	}
	if cmd.IsResponse() {
		sc.log.Warn("unexpected DIMSE response; ignored", "command", cmd.String())
		return nil
	}
	sc.log.Info("unsupported DIMSE operation", "command", cmd.String())
	return sc.respond(ctx, pc, &Command{Field: cmd.Field | 0x8000, AffectedSOPClassUID: cmd.AffectedSOPClassUID, MessageIDBeingRespondedTo: cmd.MessageID,
		Status: StatusUnrecognizedOperation, ErrorComment: "operation not supported"}, nil)
}

// respond sends a response (with a data set when data is not nil).
func (sc *scpConn) respond(ctx context.Context, pc byte, rsp *Command, data []byte) error {
	if data != nil {
		rsp.HasDataSet = true
		return sc.d.send(ctx, pc, rsp, bytes.NewReader(data))
	}
	return sc.d.send(ctx, pc, rsp, nil)
}
