package dicom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ErrNoContext is returned by Client operations when no accepted
// presentation context fits (SOP class and transfer syntax).
var ErrNoContext = errors.New("dicom: no accepted presentation context")

// ClientConfig configures an association request.
type ClientConfig struct {
	CallingAE, CalledAE string
	// Contexts are proposed in order; IDs 0 are numbered 1, 3, 5, ….
	Contexts []PresentationContext
	// MaxPDULength is what we announce and accept; 0 means
	// DefaultMaxPDULength.
	MaxPDULength uint32
	// ARTIMTimeout bounds waiting for the A-ASSOCIATE-AC/RJ, for the
	// A-RELEASE-RP, for the final response after a C-CANCEL and for the
	// peer to close after an abort; 0 means DefaultARTIMTimeout.
	ARTIMTimeout time.Duration
	// WriteTimeout bounds writing one PDU; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Roles, when set, are proposed as SCP/SCU role selection sub-items.
	Roles  []RoleSelection
	Logger *slog.Logger
}

// AcceptedContext is a presentation context the peer accepted.
type AcceptedContext struct {
	ID             byte
	AbstractSyntax string
	TransferSyntax string
}

// Client is an association requested by us (SCU). Operations run one at a
// time; a Client is safe for use by several goroutines, which then wait
// for each other.
type Client struct {
	m        *machine
	d        *dimse
	cfg      ClientConfig
	log      *slog.Logger
	peer     Association
	accepted []AcceptedContext

	mu    sync.Mutex
	msgID uint16
}

// Associate requests an association over conn (already connected; TLS
// when it is a *tls.Conn). On A-ASSOCIATE-RJ it returns a *RejectError and
// closes conn; on any error conn is closed.
func Associate(ctx context.Context, conn net.Conn, cfg ClientConfig) (*Client, error) {
	artim := orDefault(cfg.ARTIMTimeout, DefaultARTIMTimeout)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rq := &AssociateRQ{
		ProtocolVersion:    1,
		CalledAE:           cfg.CalledAE,
		CallingAE:          cfg.CallingAE,
		ApplicationContext: ApplicationContext,
		UserInfo: UserInfo{
			MaxPDULength:           orDefault(cfg.MaxPDULength, DefaultMaxPDULength),
			ImplementationClassUID: ImplementationClassUID,
			ImplementationVersion:  ImplementationVersionName,
			Roles:                  cfg.Roles,
		},
	}
	if len(cfg.CalledAE) > 16 || len(cfg.CallingAE) > 16 || len(cfg.Contexts) > 128 || len(cfg.Contexts) == 0 {
		conn.Close()
		return nil, errors.New("dicom: AE titles of at most 16 bytes and 1 to 128 presentation contexts are required")
	}
	proposed := map[byte]PresentationContext{}
	for i, pc := range cfg.Contexts {
		if pc.ID == 0 {
			pc.ID = byte(2*i + 1)
		}
		proposed[pc.ID] = pc
		rq.PresentationContexts = append(rq.PresentationContexts, pc)
	}
	m := newMachine(conn, true, machineConfig{
		maxPDU:       rq.UserInfo.MaxPDULength,
		artim:        artim,
		writeTimeout: orDefault(cfg.WriteTimeout, DefaultWriteTimeout),
		log:          log,
	})
	if err := m.startRequestor(rq); err != nil {
		m.closeNow(err)
		return nil, err
	}
	t := time.NewTimer(artim)
	defer t.Stop()
	var ac *AssociateAC
	select {
	case ind := <-m.ind:
		ac = ind.pdu.(*AssociateAC)
	case <-m.ended:
		m.detach()
		return nil, m.err()
	case <-ctx.Done():
		m.abort(SourceServiceUser, 0)
		m.closeNow(ctx.Err())
		m.detach()
		return nil, ctx.Err()
	case <-t.C:
		m.abort(SourceServiceUser, 0)
		m.closeNow(ErrARTIMExpired)
		m.detach()
		return nil, fmt.Errorf("dicom: no answer to A-ASSOCIATE-RQ: %w", ErrARTIMExpired)
	}
	if mx := ac.UserInfo.MaxPDULength; mx != 0 && mx < minMaxPDULength {
		// No P-DATA-TF we could send would fit (PS3.8 D.1, E.1).
		m.abort(SourceServiceUser, 0)
		m.detach()
		return nil, fmt.Errorf("dicom: the acceptor's maximum PDU length %d cannot carry any P-DATA-TF", mx)
	}
	c := &Client{
		m:   m,
		d:   newDIMSE(m, ac.UserInfo.MaxPDULength),
		cfg: cfg,
		log: log,
		peer: Association{
			CallingAE:              cfg.CallingAE,
			CalledAE:               cfg.CalledAE,
			Peer:                   conn.RemoteAddr().String(),
			ImplementationClassUID: ac.UserInfo.ImplementationClassUID,
			ImplementationVersion:  ac.UserInfo.ImplementationVersion,
			MaxPDULength:           ac.UserInfo.MaxPDULength,
		},
	}
	for _, r := range ac.PresentationContexts {
		pc, ok := proposed[r.ID]
		if r.Result != ResultAcceptance || !ok {
			continue
		}
		c.accepted = append(c.accepted, AcceptedContext{ID: r.ID, AbstractSyntax: pc.AbstractSyntax, TransferSyntax: r.TransferSyntax})
	}
	log.Debug("association accepted", "accepted", len(c.accepted), "proposed", len(rq.PresentationContexts), "peer_max_pdu", ac.UserInfo.MaxPDULength)
	return c, nil
}

// AcceptedContexts returns the presentation contexts the peer accepted.
func (c *Client) AcceptedContexts() []AcceptedContext {
	return append([]AcceptedContext(nil), c.accepted...)
}

// Peer returns what the acceptor announced: its implementation class UID,
// version name and maximum PDU length.
func (c *Client) Peer() Association { return c.peer }

// TransferSyntax returns the transfer syntax of the first accepted context
// for sopClass.
func (c *Client) TransferSyntax(sopClass string) (string, bool) {
	for _, a := range c.accepted {
		if a.AbstractSyntax == sopClass {
			return a.TransferSyntax, true
		}
	}
	return "", false
}

// Err returns why the association ended, nil while it lasts.
func (c *Client) Err() error { return c.m.err() }

func (c *Client) context(sopClass, ts string) (byte, error) {
	for _, a := range c.accepted {
		if a.AbstractSyntax == sopClass && (ts == "" || a.TransferSyntax == ts) {
			return a.ID, nil
		}
	}
	if ts == "" {
		return 0, fmt.Errorf("%w for %s", ErrNoContext, sopClass)
	}
	return 0, fmt.Errorf("%w for %s in %s", ErrNoContext, sopClass, ts)
}

func (c *Client) nextID() uint16 {
	c.msgID++
	if c.msgID == 0 {
		c.msgID = 1
	}
	return c.msgID
}

// lose aborts the association after an operation could not complete and
// returns err.
func (c *Client) lose(err error) error {
	var de *dimseError
	var ce *CommandError
	if errors.As(err, &de) || errors.As(err, &ce) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errStopped) {
		c.m.abort(SourceServiceUser, 0)
	}
	if errors.Is(err, errReleaseRequest) {
		// The acceptor released: a release is always accepted (PS3.8
		// 7.2.2), with an A-RELEASE-RP (Sta8, AR-4).
		c.m.local(evt14, nil)
	}
	return err
}

// response reads the response to msgID on pc, with its data set in
// memory when it has one (bounded by limit).
func (c *Client) response(ctx context.Context, msgID uint16, stop <-chan struct{}) (*Command, *dataSetReader, error) {
	for {
		var done <-chan struct{}
		if ctx != nil {
			done = ctx.Done()
		}
		if stop != nil {
			done = stop
		}
		_, cmd, err := c.d.readCommand(waiter{stop: done})
		if err != nil {
			if errors.Is(err, errStopped) && ctx != nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, nil, err
		}
		ds := c.d.dataSet()
		if cmd.IsResponse() && cmd.MessageIDBeingRespondedTo == msgID {
			return cmd, ds, nil
		}
		c.log.Warn("unexpected DIMSE message; dropped", "command", cmd.String())
		if err := ds.Discard(); err != nil {
			return nil, nil, err
		}
	}
}

// Echo sends a C-ECHO-RQ; a status other than success is a *StatusError.
func (c *Client) Echo(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, err := c.context(VerificationSOPClass, "")
	if err != nil {
		return err
	}
	id := c.nextID()
	if err := c.d.send(ctx, pc, &Command{Field: CEchoRQ, AffectedSOPClassUID: VerificationSOPClass, MessageID: id}, nil); err != nil {
		return c.lose(err)
	}
	rsp, ds, err := c.response(ctx, id, nil)
	if err != nil {
		return c.lose(err)
	}
	if err := ds.Discard(); err != nil {
		return c.lose(err)
	}
	if rsp.Status != StatusSuccess {
		return &StatusError{Status: rsp.Status, Comment: rsp.ErrorComment}
	}
	return nil
}

// Store sends one instance with C-STORE: dataset is the data set (no
// Part 10 header) already encoded in transferSyntax, streamed in fragments
// sized to the peer's maximum PDU length. It returns the response's status
// and Error Comment; err is set only when no response came (the
// association is then aborted or lost). A cancelled ctx aborts the
// association.
func (c *Client) Store(ctx context.Context, sopClass, sopInstance, transferSyntax string, dataset io.Reader) (status uint16, comment string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, err := c.context(sopClass, transferSyntax)
	if err != nil {
		return 0, "", err
	}
	id := c.nextID()
	cmd := &Command{Field: CStoreRQ, AffectedSOPClassUID: sopClass, AffectedSOPInstanceUID: sopInstance, MessageID: id, Priority: PriorityMedium, HasDataSet: true}
	if err := c.d.send(ctx, pc, cmd, dataset); err != nil {
		return 0, "", c.lose(err)
	}
	rsp, ds, err := c.response(ctx, id, nil)
	if err != nil {
		return 0, "", c.lose(err)
	}
	if err := ds.Discard(); err != nil {
		return 0, "", c.lose(err)
	}
	return rsp.Status, rsp.ErrorComment, nil
}

// Find sends a C-FIND-RQ with identifier (encoded in the transfer syntax
// the context for sopClass was accepted with, see TransferSyntax) and
// calls fn with each pending response's identifier. It returns the final
// status. When ctx is cancelled, or fn fails, a C-CANCEL-RQ is sent and
// the final response (0xFE00 usually) awaited for up to the ARTIM timeout;
// the error is then ctx.Err() or fn's error, with the final status.
func (c *Client) Find(ctx context.Context, sopClass string, identifier []byte, fn func(identifier []byte) error) (uint16, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, err := c.context(sopClass, "")
	if err != nil {
		return 0, err
	}
	id := c.nextID()
	cmd := &Command{Field: CFindRQ, AffectedSOPClassUID: sopClass, MessageID: id, Priority: PriorityMedium, HasDataSet: true}
	if err := c.d.send(ctx, pc, cmd, bytes.NewReader(identifier)); err != nil {
		return 0, c.lose(err)
	}
	var cancelErr error
	var stop chan struct{}
	cancel := func(why error) error {
		cancelErr = why
		stop = make(chan struct{})
		time.AfterFunc(orDefault(c.cfg.ARTIMTimeout, DefaultARTIMTimeout), func() { close(stop) })
		return c.d.send(nil, pc, &Command{Field: CCancelRQ, MessageIDBeingRespondedTo: id}, nil)
	}
	for {
		var rsp *Command
		var ds *dataSetReader
		if cancelErr == nil {
			rsp, ds, err = c.response(ctx, id, nil)
			if err != nil && ctx.Err() != nil && c.m.err() == nil {
				if err := cancel(ctx.Err()); err != nil {
					return 0, c.lose(err)
				}
				continue
			}
		} else {
			rsp, ds, err = c.response(nil, id, stop)
			if errors.Is(err, errStopped) {
				c.m.abort(SourceServiceUser, 0)
				return 0, fmt.Errorf("dicom: no final C-FIND response after C-CANCEL: %w", ErrARTIMExpired)
			}
		}
		if err != nil {
			return 0, c.lose(err)
		}
		if rsp.Status == StatusPending || rsp.Status == StatusPendingWarning {
			data, ok, err := ds.readAllLimited(16 << 20)
			if err != nil {
				return 0, c.lose(err)
			}
			if !ok {
				data = nil
			}
			if cancelErr == nil && data != nil {
				if ferr := fn(data); ferr != nil {
					if err := cancel(ferr); err != nil {
						return 0, c.lose(err)
					}
				}
			}
			continue
		}
		if err := ds.Discard(); err != nil {
			return 0, c.lose(err)
		}
		return rsp.Status, cancelErr
	}
}

// Release releases the association (A-RELEASE, including a release
// collision when the peer releases at the same time) and closes the
// connection.
func (c *Client) Release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.m.detach()
	return release(ctx, c.m, orDefault(c.cfg.ARTIMTimeout, DefaultARTIMTimeout), c.log)
}

// release runs the A-RELEASE procedure from Sta6 for either side.
func release(ctx context.Context, m *machine, artim time.Duration, log *slog.Logger) error {
	if err := m.local(evt11, nil); err != nil {
		if m.currentState() == sta8 {
			// The peer asked first and waits for our A-RELEASE-RP
			// (PS3.8 7.2.2: a release is always accepted).
			return ignoreReleased(m.local(evt14, nil))
		}
		return ignoreReleased(err)
	}
	t := time.NewTimer(artim)
	defer t.Stop()
	for {
		select {
		case ind := <-m.ind:
			switch ind.kind {
			case indReleaseCollision:
				log.Debug("release collision", "requestor", m.requestor)
				if m.requestor {
					// Sta9: answer, then wait for the peer's RP (Sta11).
					if err := m.local(evt14, nil); err != nil {
						return err
					}
				}
			case indReleaseConfirm:
				// Sta12 (acceptor in collision): answer and finish.
				return ignoreReleased(m.local(evt14, nil))
			default:
				// P-DATA arriving in Sta7 has no taker any more.
			}
		case <-m.ended:
			return ignoreReleased(m.err())
		case <-ctx.Done():
			m.abort(SourceServiceUser, 0)
			return ctx.Err()
		case <-t.C:
			m.abort(SourceServiceUser, 0)
			return fmt.Errorf("dicom: no A-RELEASE-RP: %w", ErrARTIMExpired)
		}
	}
}

func ignoreReleased(err error) error {
	if err == nil || errors.Is(err, ErrReleased) {
		return nil
	}
	return err
}

// Abort sends an A-ABORT and waits (at most the ARTIM timeout) for the
// peer to close the connection.
func (c *Client) Abort() error {
	c.m.abort(SourceServiceUser, 0)
	c.m.detach()
	select {
	case <-c.m.closed:
	case <-time.After(orDefault(c.cfg.ARTIMTimeout, DefaultARTIMTimeout) + time.Second):
		c.m.closeNow(ErrAborted)
	}
	return nil
}
