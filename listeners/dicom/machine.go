package dicom

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// The upper layer state machine of PS3.8 9.2: states Sta1–Sta13, events
// Evt1–Evt19 and the actions of Table 9-10, driven by one reader goroutine
// (PDUs, transport close, ARTIM expiry) and by the local user (the Server
// or Client: associate responses, P-DATA, release and abort requests).

type state uint8

const (
	sta1  state = iota + 1 // idle
	sta2                   // transport open, awaiting A-ASSOCIATE-RQ
	sta3                   // awaiting local A-ASSOCIATE response
	sta4                   // awaiting transport connection (not used: the conn is given)
	sta5                   // awaiting A-ASSOCIATE-AC or -RJ
	sta6                   // association established
	sta7                   // awaiting A-RELEASE-RP
	sta8                   // awaiting local A-RELEASE response
	sta9                   // release collision, requestor: awaiting local A-RELEASE response
	sta10                  // release collision, acceptor: awaiting A-RELEASE-RP
	sta11                  // release collision, requestor: awaiting A-RELEASE-RP
	sta12                  // release collision, acceptor: awaiting local A-RELEASE response
	sta13                  // awaiting transport close
)

type event uint8

const (
	evt1  event = iota + 1 // A-ASSOCIATE request (local)
	evt2                   // transport connect confirm
	evt3                   // A-ASSOCIATE-AC PDU
	evt4                   // A-ASSOCIATE-RJ PDU
	evt5                   // transport connect indication
	evt6                   // A-ASSOCIATE-RQ PDU
	evt7                   // A-ASSOCIATE response accept (local)
	evt8                   // A-ASSOCIATE response reject (local)
	evt9                   // P-DATA request (local)
	evt10                  // P-DATA-TF PDU
	evt11                  // A-RELEASE request (local)
	evt12                  // A-RELEASE-RQ PDU
	evt13                  // A-RELEASE-RP PDU
	evt14                  // A-RELEASE response (local)
	evt15                  // A-ABORT request (local)
	evt16                  // A-ABORT PDU
	evt17                  // transport closed
	evt18                  // ARTIM expired
	evt19                  // unrecognized or invalid PDU
)

var eventNames = [...]string{"", "A-ASSOCIATE request", "transport connect confirm", "A-ASSOCIATE-AC PDU", "A-ASSOCIATE-RJ PDU",
	"transport connect indication", "A-ASSOCIATE-RQ PDU", "A-ASSOCIATE accept", "A-ASSOCIATE reject", "P-DATA request",
	"P-DATA-TF PDU", "A-RELEASE request", "A-RELEASE-RQ PDU", "A-RELEASE-RP PDU", "A-RELEASE response", "A-ABORT request",
	"A-ABORT PDU", "transport closed", "ARTIM expired", "invalid PDU"}

func (e event) String() string { return eventNames[e] }

type action uint8

const (
	actNone action = iota
	ae1
	ae2
	ae3
	ae4
	ae5
	ae6
	ae7
	ae8
	dt1
	dt2
	ar1
	ar2
	ar3
	ar4
	ar5
	ar6
	ar7
	ar8
	ar9
	ar10
	aa1
	aa2
	aa3
	aa4
	aa5
	aa6
	aa7
	aa8
)

// transitions is PS3.8 Table 9-10: the action for each event (row) in each
// state (column). actNone: the event cannot occur in that state (a local
// primitive is refused; a remote one cannot happen, as the reader only
// runs from Sta2/Sta5 on).
var transitions = [...][14]action{
	evt1:  {sta1: ae1},
	evt2:  {sta4: ae2},
	evt3:  {sta2: aa1, sta3: aa8, sta5: ae3, sta6: aa8, sta7: aa8, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa6},
	evt4:  {sta2: aa1, sta3: aa8, sta5: ae4, sta6: aa8, sta7: aa8, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa6},
	evt5:  {sta1: ae5},
	evt6:  {sta2: ae6, sta3: aa8, sta5: aa8, sta6: aa8, sta7: aa8, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa7},
	evt7:  {sta3: ae7},
	evt8:  {sta3: ae8},
	evt9:  {sta6: dt1, sta8: ar7},
	evt10: {sta2: aa1, sta3: aa8, sta5: aa8, sta6: dt2, sta7: ar6, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa6},
	evt11: {sta6: ar1},
	evt12: {sta2: aa1, sta3: aa8, sta5: aa8, sta6: ar2, sta7: ar8, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa6},
	evt13: {sta2: aa1, sta3: aa8, sta5: aa8, sta6: aa8, sta7: ar3, sta8: aa8, sta9: aa8, sta10: ar10, sta11: ar3, sta12: aa8, sta13: aa6},
	evt14: {sta8: ar4, sta9: ar9, sta12: ar4},
	evt15: {sta3: aa1, sta4: aa2, sta5: aa1, sta6: aa1, sta7: aa1, sta8: aa1, sta9: aa1, sta10: aa1, sta11: aa1, sta12: aa1},
	evt16: {sta2: aa2, sta3: aa3, sta5: aa3, sta6: aa3, sta7: aa3, sta8: aa3, sta9: aa3, sta10: aa3, sta11: aa3, sta12: aa3, sta13: aa2},
	evt17: {sta2: aa5, sta3: aa4, sta4: aa4, sta5: aa4, sta6: aa4, sta7: aa4, sta8: aa4, sta9: aa4, sta10: aa4, sta11: aa4, sta12: aa4, sta13: ar5},
	evt18: {sta2: aa2, sta13: aa2},
	evt19: {sta2: aa1, sta3: aa8, sta5: aa8, sta6: aa8, sta7: aa8, sta8: aa8, sta9: aa8, sta10: aa8, sta11: aa8, sta12: aa8, sta13: aa7},
}

// Errors that end an association.
var (
	// ErrReleased: the association was released normally.
	ErrReleased = errors.New("dicom: association released")
	// ErrAborted: the local side aborted the association.
	ErrAborted = errors.New("dicom: association aborted locally")
	// ErrARTIMExpired: the ARTIM timer expired (no A-ASSOCIATE-RQ in time
	// after connect, or the peer did not close after release or abort).
	ErrARTIMExpired = errors.New("dicom: ARTIM timer expired")
	// ErrConnectionClosed: the transport closed without release or abort.
	ErrConnectionClosed = errors.New("dicom: connection closed by peer")
)

// AbortError reports an association ended by an A-ABORT. Local is false
// when the peer sent it; true when we sent it because the peer broke the
// protocol (Err says how).
type AbortError struct {
	Source, Reason byte
	Local          bool
	Err            error
}

func (e *AbortError) Error() string {
	if e.Local {
		return fmt.Sprintf("dicom: association aborted (source %d, reason %d): %v", e.Source, e.Reason, e.Err)
	}
	return fmt.Sprintf("dicom: association aborted by peer (source %d, reason %d: %s)", e.Source, e.Reason, abortReasonText(e.Source, e.Reason))
}

func (e *AbortError) Unwrap() error { return e.Err }

func abortReasonText(source, reason byte) string {
	if source != SourceServiceProvider {
		return "service-user"
	}
	switch reason {
	case AbortUnrecognizedPDU:
		return "unrecognized PDU"
	case AbortUnexpectedPDU:
		return "unexpected PDU"
	case AbortUnrecognizedParameter:
		return "unrecognized PDU parameter"
	case AbortUnexpectedParameter:
		return "unexpected PDU parameter"
	case AbortInvalidParameter:
		return "invalid PDU parameter value"
	}
	return "reason not specified"
}

// RejectError reports an A-ASSOCIATE-RJ.
type RejectError struct {
	Result, Source, Reason byte
}

func (e *RejectError) Error() string {
	kind := "permanent"
	if e.Result == RejectTransient {
		kind = "transient"
	}
	return fmt.Sprintf("dicom: association rejected (%s, source %d, reason %d: %s)", kind, e.Source, e.Reason, e.ReasonText())
}

// ReasonText names the reject reason as PS3.8 9.3.4 does.
func (e *RejectError) ReasonText() string {
	switch e.Source {
	case RejectSourceUser:
		switch e.Reason {
		case RejectNoReason:
			return "no reason given"
		case RejectAppContextNotSupported:
			return "application context name not supported"
		case RejectCallingAENotRecognized:
			return "calling AE title not recognized"
		case RejectCalledAENotRecognized:
			return "called AE title not recognized"
		}
	case RejectSourceACSE:
		switch e.Reason {
		case 1:
			return "no reason given"
		case RejectProtocolVersionNotSupported:
			return "protocol version not supported"
		}
	case RejectSourcePresentation:
		switch e.Reason {
		case 1:
			return "temporary congestion"
		case 2:
			return "local limit exceeded"
		}
	}
	return "reserved"
}

type indKind uint8

const (
	indAssociateRQ      indKind = iota + 1 // Sta3: *AssociateRQ
	indAssociateAC                         // Sta6: *AssociateAC
	indPData                               // *PDataTF
	indReleaseRQ                           // A-RELEASE indication (Sta8)
	indReleaseCollision                    // A-RELEASE indication in collision (Sta9/Sta10)
	indReleaseConfirm                      // A-RELEASE confirmation in collision, acceptor (Sta12)
)

type indication struct {
	kind indKind
	pdu  PDU
}

type machineConfig struct {
	maxPDU       uint32 // what we announce and accept; 0: default
	artim        time.Duration
	writeTimeout time.Duration
	log          *slog.Logger
}

// machine is one association over one connection.
type machine struct {
	conn      net.Conn
	requestor bool
	cfg       machineConfig
	log       *slog.Logger

	r   *PDUReader
	wmu sync.Mutex
	w   *PDUWriter

	mu      sync.Mutex
	state   state
	artimOn bool
	endErr  error

	ended      chan struct{} // closed when the association is over (Sta13 or Sta1)
	closed     chan struct{} // closed when the transport is closed (Sta1)
	readerDone chan struct{}
	ind        chan indication
	quit       chan struct{} // closed by detach: indications are dropped
	quitOnce   sync.Once
}

func newMachine(conn net.Conn, requestor bool, cfg machineConfig) *machine {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	// P-DATA buffers are recycled: the reader hands PDUs over a channel of
	// indCap; the DIMSE layer takes the next P-DATA only after it has used
	// up the previous one, so indCap+2 buffers are never in use at once
	// (queued, being used, being read).
	r := NewPDUReader(conn, cfg.maxPDU)
	r.reuseBuffers(indCap + 2)
	return &machine{
		conn:       conn,
		requestor:  requestor,
		cfg:        cfg,
		log:        cfg.log,
		r:          r,
		w:          NewPDUWriter(conn),
		state:      sta1,
		ended:      make(chan struct{}),
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
		ind:        make(chan indication, indCap),
		quit:       make(chan struct{}),
	}
}

// indCap is how many indications the reader may queue ahead.
const indCap = 4

// startAcceptor handles the transport connect indication (Evt5): ARTIM
// starts and the reader runs until the transport closes.
func (m *machine) startAcceptor() {
	m.mu.Lock()
	m.fire(evt5, nil, nil)
	m.mu.Unlock()
	go m.readLoop()
}

// startRequestor sends the A-ASSOCIATE-RQ (Evt1, then Evt2 at once since
// the connection is open) and starts the reader.
func (m *machine) startRequestor(rq *AssociateRQ) error {
	m.mu.Lock()
	_, err := m.fire(evt1, rq, nil)
	m.mu.Unlock()
	go m.readLoop()
	return err
}

// err returns why the association ended, or nil while it lasts.
func (m *machine) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endErr
}

func (m *machine) currentState() state {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// detach tells the reader the local user takes no more indications.
func (m *machine) detach() { m.quitOnce.Do(func() { close(m.quit) }) }

// local runs a local primitive: evt7/evt8 (p: the AC or RJ), evt11,
// evt14, evt15 (p: the *Abort to send).
func (m *machine) local(e event, p PDU) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if transitions[e][m.state] == actNone {
		return m.notAllowed(e)
	}
	_, err := m.fire(e, p, nil)
	return err
}

func (m *machine) notAllowed(e event) error {
	if m.endErr != nil {
		return m.endErr
	}
	return fmt.Errorf("dicom: %s not allowed in state Sta%d", e, m.state)
}

// abort sends an A-ABORT (Evt15) if the association still exists.
func (m *machine) abort(source, reason byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if transitions[evt15][m.state] != actNone {
		m.fire(evt15, &Abort{Source: source, Reason: reason}, nil)
	}
}

// closeNow closes the transport whatever the state.
func (m *machine) closeNow(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closeTransport(err)
}

// sendPData writes one encoded P-DATA-TF PDU (Evt9: DT-1 in Sta6, AR-7 in
// Sta8). The state is checked under the lock; the write itself is not,
// so the reader keeps handling incoming PDUs during a long write.
func (m *machine) sendPData(pdu []byte) error {
	m.mu.Lock()
	if transitions[evt9][m.state] == actNone {
		err := m.notAllowed(evt9)
		m.mu.Unlock()
		return err
	}
	m.mu.Unlock()
	m.wmu.Lock()
	m.conn.SetWriteDeadline(time.Now().Add(m.cfg.writeTimeout))
	_, err := m.conn.Write(pdu)
	m.wmu.Unlock()
	if err != nil {
		m.closeNow(fmt.Errorf("dicom: writing P-DATA-TF: %w", err))
		return m.err()
	}
	return nil
}

// readLoop turns what arrives on the connection into events until the
// transport is closed.
func (m *machine) readLoop() {
	defer close(m.readerDone)
	desynced := false
	for {
		var p PDU
		var err error
		if desynced {
			// After an invalid PDU the stream cannot be parsed: wait for
			// the peer to close (or for ARTIM), discarding its bytes.
			_, err = io.Copy(io.Discard, m.conn)
			if err == nil {
				err = io.EOF
			}
		} else {
			p, err = m.r.ReadPDU()
		}
		var e event
		var cause error
		var pe *PDUError
		var ne net.Error
		switch {
		case err == nil:
			e = eventFor(p)
		case errors.As(err, &pe):
			e, cause, desynced = evt19, err, true
		case errors.As(err, &ne) && ne.Timeout() && m.artimRunning():
			e = evt18
		default:
			e, cause = evt17, err
		}
		m.mu.Lock()
		ind, _ := m.fire(e, p, cause)
		st := m.state
		m.mu.Unlock()
		if ind != nil {
			select {
			case m.ind <- *ind:
			case <-m.quit:
			}
		}
		if st == sta1 {
			return
		}
	}
}

func (m *machine) artimRunning() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.artimOn
}

func eventFor(p PDU) event {
	switch p.(type) {
	case *AssociateAC:
		return evt3
	case *AssociateRJ:
		return evt4
	case *AssociateRQ:
		return evt6
	case *PDataTF:
		return evt10
	case *ReleaseRQ:
		return evt12
	case *ReleaseRP:
		return evt13
	default:
		return evt16
	}
}

// fire performs the action for event e in the current state and moves to
// the next state. p is the PDU received or to send; cause explains evt17
// and evt19. It returns the indication for the local user, if any. m.mu
// is held.
func (m *machine) fire(e event, p PDU, cause error) (*indication, error) {
	a := transitions[e][m.state]
	var ind *indication
	var err error
	from := m.state
	switch a {
	case actNone:
		return nil, nil
	case ae1:
		m.state = sta4
		return m.fire(evt2, p, nil)
	case ae2:
		m.state = sta5
		err = m.write(p)
	case ae3:
		m.state = sta6
		ind = &indication{indAssociateAC, p}
	case ae4:
		rj := p.(*AssociateRJ)
		m.closeTransport(&RejectError{Result: rj.Result, Source: rj.Source, Reason: rj.Reason})
	case ae5:
		m.state = sta2
		m.startARTIM()
	case ae6:
		m.stopARTIM()
		rq := p.(*AssociateRQ)
		if rq.ProtocolVersion&1 == 0 {
			rj := &RejectError{Result: RejectPermanent, Source: RejectSourceACSE, Reason: RejectProtocolVersionNotSupported}
			m.state = sta13
			m.end(rj)
			err = m.write(&AssociateRJ{Result: rj.Result, Source: rj.Source, Reason: rj.Reason})
			m.startARTIM()
		} else {
			m.state = sta3
			ind = &indication{indAssociateRQ, p}
		}
	case ae7:
		m.state = sta6
		err = m.write(p)
	case ae8:
		rj := p.(*AssociateRJ)
		m.state = sta13
		m.end(&RejectError{Result: rj.Result, Source: rj.Source, Reason: rj.Reason})
		err = m.write(p)
		m.startARTIM()
	case dt1:
		m.state = sta6
	case dt2:
		ind = &indication{indPData, p}
	case ar1:
		m.state = sta7
		err = m.write(&ReleaseRQ{})
	case ar2:
		m.state = sta8
		ind = &indication{indReleaseRQ, nil}
	case ar3:
		m.end(ErrReleased)
		m.closeTransport(ErrReleased)
	case ar4:
		m.state = sta13
		m.end(ErrReleased)
		err = m.write(&ReleaseRP{})
		m.startARTIM()
	case ar5:
		m.stopARTIM()
		m.closeTransport(ErrConnectionClosed)
	case ar6:
		ind = &indication{indPData, p}
	case ar7:
		m.state = sta8
	case ar8:
		m.state = sta10
		if m.requestor {
			m.state = sta9
		}
		ind = &indication{indReleaseCollision, nil}
	case ar9:
		m.state = sta11
		err = m.write(&ReleaseRP{})
	case ar10:
		m.state = sta12
		ind = &indication{indReleaseConfirm, nil}
	case aa1, aa7, aa8:
		ab, ok := p.(*Abort)
		if !ok || e != evt15 {
			ab = &Abort{Source: SourceServiceProvider, Reason: AbortUnexpectedPDU}
			var pe *PDUError
			if errors.As(cause, &pe) {
				ab.Reason = pe.Reason
			}
		}
		m.state = sta13
		if e == evt15 {
			m.end(ErrAborted)
		} else if a != aa7 {
			if cause == nil {
				cause = fmt.Errorf("dicom: %s in state Sta%d", e, from)
			}
			m.end(&AbortError{Source: ab.Source, Reason: ab.Reason, Local: true, Err: cause})
		}
		err = m.write(ab)
		if a != aa7 {
			m.startARTIM() // AA-7 leaves the running ARTIM alone
		}
	case aa2:
		m.stopARTIM()
		if e == evt18 {
			m.closeTransport(ErrARTIMExpired)
		} else if ab, ok := p.(*Abort); ok {
			m.closeTransport(&AbortError{Source: ab.Source, Reason: ab.Reason})
		} else {
			m.closeTransport(ErrAborted)
		}
	case aa3:
		ab := p.(*Abort)
		m.closeTransport(&AbortError{Source: ab.Source, Reason: ab.Reason})
	case aa4, aa5:
		m.stopARTIM()
		m.closeTransport(fmt.Errorf("%w: %v", ErrConnectionClosed, cause))
	case aa6:
		// Ignore the PDU; stay in Sta13.
	}
	if err != nil {
		m.closeTransport(err)
	}
	if m.state != from {
		m.log.Debug("dicom state", "event", e.String(), "from", int(from), "to", int(m.state))
	}
	return ind, err
}

// write sends a PDU (not P-DATA) with the write timeout. m.mu is held.
func (m *machine) write(p PDU) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.conn.SetWriteDeadline(time.Now().Add(m.cfg.writeTimeout))
	if err := m.w.WritePDU(p); err != nil {
		return fmt.Errorf("dicom: writing PDU 0x%02x: %w", p.Type(), err)
	}
	return nil
}

func (m *machine) end(err error) {
	if m.endErr == nil {
		m.endErr = err
		close(m.ended)
	}
}

// closeTransport closes the connection and enters Sta1. m.mu is held.
func (m *machine) closeTransport(err error) {
	m.end(err)
	if m.state == sta1 && isClosed(m.closed) {
		return
	}
	m.state = sta1
	m.artimOn = false
	m.conn.Close()
	if !isClosed(m.closed) {
		close(m.closed)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (m *machine) startARTIM() {
	m.artimOn = true
	m.conn.SetReadDeadline(time.Now().Add(m.cfg.artim))
}

func (m *machine) stopARTIM() {
	m.artimOn = false
	m.conn.SetReadDeadline(time.Time{})
}
