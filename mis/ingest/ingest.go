// Package ingest is the one path from a listener into the MIS, for every
// protocol: (1) identify the device and store the raw envelope durably —
// committed and fsync'd — before anything else; (2) parse and (3) map it
// with the protocol's Processor; (4) write the resulting resources and the
// envelope's status in one transaction. Only then does Handle return nil
// and the listener acknowledge.
package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/medgate/medgate/listeners"
	"github.com/medgate/medgate/mapping"
	"github.com/medgate/medgate/mis/blob"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Input is what a Processor gets: the stored message and its context.
type Input struct {
	Message *domain.Message // with Raw
	Device  *domain.Device  // nil: the device is not registered
	CodeMap *domain.CodeMap // the device's code map, nil if it has none
	// Decisions are earlier attach decisions on this message's
	// reconciliation items, so that reprocessing attaches the same way.
	Decisions []domain.ReconItem
	Lookup    mapping.Lookup
}

// Processor parses and maps one protocol's messages. It returns the
// resources to write; a message that cannot be parsed or mapped is a
// *listeners.InvalidError; any other error is a fault (the message stays
// stored and is processed again later).
type Processor interface {
	Process(ctx context.Context, in Input) (*store.IngestResult, error)
}

// Pipeline implements listeners.Handler.
type Pipeline struct {
	Store      store.Store
	Processors map[listeners.Protocol]Processor
	// AcceptUnknown lists protocols whose listeners take messages from
	// unregistered devices: stored and queued for review, never attached.
	AcceptUnknown map[listeners.Protocol]bool
	// DefaultOrg owns messages from unregistered devices.
	DefaultOrg int64
	// Blobs keeps envelopes that carry their bytes in a file (DICOM
	// instances); nil refuses them.
	Blobs *blob.FS
	// CacheTTL is how long Handle reuses device and code-map lookups;
	// 0 means DefaultCacheTTL, negative disables the cache.
	CacheTTL time.Duration

	devices  ttlCache[deviceKey, []domain.Device]
	codeMaps ttlCache[codeMapKey, *domain.CodeMap]
	Logger   *slog.Logger // default: discard
}

var _ listeners.Handler = (*Pipeline)(nil)

type deviceKey struct{ protocol, identity string }

type codeMapKey struct {
	org  int64
	name string
}

func (p *Pipeline) cacheTTL() time.Duration {
	if p.CacheTTL == 0 {
		return DefaultCacheTTL
	}
	return p.CacheTTL
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Handle stores, processes and attaches one envelope.
func (p *Pipeline) Handle(ctx context.Context, env *listeners.Envelope) error {
	dev, err := p.identify(ctx, env)
	if err != nil {
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
	}
	if dev == nil && !p.AcceptUnknown[env.Protocol] {
		p.log().Warn("message from unregistered device refused", "protocol", env.Protocol, "peer", env.Peer, "identity", identity(env))
		return listeners.ErrUnknownDevice
	}
	m := messageOf(env, dev, p.DefaultOrg)
	if env.Truncated {
		// Only the start of a message too large to take: kept for review,
		// never processed; the listener refuses the message.
		m.Status = domain.MessageError
		m.Reason = fmt.Sprintf("message too large: only its first %d bytes were kept", len(env.Raw))
		if _, err := p.Store.SaveMessage(ctx, m); err != nil {
			return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
		}
		return nil
	}
	if env.File != "" {
		// Too large for a row: the bytes go to the blob store first, so the
		// row never points at bytes that are not on disk.
		if p.Blobs == nil {
			return fmt.Errorf("%w: no blob store for %s messages", listeners.ErrUnavailable, env.Protocol)
		}
		key, err := p.Blobs.Put(ctx, env.File, env.Digest)
		if err != nil {
			p.log().Error("message not stored", "protocol", env.Protocol, "size", env.Size, "err", err)
			return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
		}
		m.Blob, m.Size = key, int(env.Size)
	}
	// A message whose bytes are already durable in the blob store is
	// processed before its row is written, and row and result commit
	// together: one commit per DICOM instance instead of two. A fault
	// leaves the row alone (status received), processed again later.
	var pre *store.IngestResult
	var preInvalid *listeners.InvalidError
	var fault error
	if m.Blob != "" && dev != nil {
		res, perr := p.run(ctx, m, dev, true)
		switch {
		case errors.As(perr, &preInvalid):
			pre = &store.IngestResult{Status: domain.MessageError, Reason: preInvalid.Error()}
		case perr != nil:
			fault = perr
		default:
			pre = res
		}
	}
	orig, err := p.Store.SaveMessageWithResult(ctx, m, pre)
	if err != nil {
		p.log().Error("message not stored", "protocol", env.Protocol, "size", len(env.Raw), "err", err)
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
	}
	// Only a resend or a conflict has an original; a new message's status
	// may already be its result's.
	switch status := m.Status; {
	case orig == nil:
	case status == domain.MessageDuplicate:
		// A resend: the sender did not hear our ack. Answer as we did.
		p.log().Info("duplicate message", "message", m.ID, "original", orig.ID, "key", m.Key)
		if orig.Status == domain.MessageReceived && dev != nil {
			// The original was stored but never processed (a fault while
			// attaching it): the resend is the moment to try again, and
			// only a processed original earns the positive answer.
			first, err := p.Store.GetMessage(ctx, nil, orig.ID)
			if err != nil {
				return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
			}
			return p.process(ctx, first, dev, true)
		}
		if orig.Status == domain.MessageError {
			return &listeners.InvalidError{Stage: "parse", Reason: orig.Reason}
		}
		return nil
	case status == domain.MessageQueued:
		p.log().Warn("message conflicts with an earlier one", "message", m.ID, "original", orig.ID, "key", m.Key)
		return nil // stored safely; a person compares the two
	}
	switch {
	case pre != nil:
		p.log().Info("message processed", "message", m.ID, "device", dev.Name, "status", m.Status,
			"studies", len(pre.Studies), "queued", len(pre.Recon))
		if preInvalid != nil {
			return preInvalid
		}
		return nil
	case fault != nil:
		p.log().Error("processing failed; the message stays stored", "message", m.ID, "err", fault)
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, fault)
	}
	if dev == nil {
		if err := p.queueUnknown(ctx, m.ID, env); err != nil {
			return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
		}
		return nil
	}
	return p.process(ctx, m, dev, true)
}

// queueUnknown queues a message of an unregistered sender for review: a
// person registers the device, then reprocesses the message.
func (p *Pipeline) queueUnknown(ctx context.Context, id int64, env *listeners.Envelope) error {
	return p.Store.ApplyIngest(ctx, id, &store.IngestResult{Status: domain.MessageQueued, Reason: "device not registered", Recon: []store.ReconDraft{{
		Item: domain.ReconItem{Kind: kind(env.Protocol), Reason: domain.ReasonUnknownDevice,
			Detail: fmt.Sprintf("%s from %s (%s)", env.Protocol, env.Peer, identity(env)), Key: "device:" + identity(env)},
		Report: -1, Study: -1}}})
}

// adopt gives a message stored from an unregistered sender the device now
// registered for its identity, if there is one; it returns the message as
// it now is and its device, or a nil device.
func (p *Pipeline) adopt(ctx context.Context, m *domain.Message) (*domain.Message, *domain.Device, error) {
	dev, err := p.identifyWithin(ctx, envelopeOf(m), 0)
	if err != nil || dev == nil {
		return m, nil, err
	}
	if err := p.Store.AssignMessageDevice(ctx, m.ID, dev); err != nil {
		return m, nil, err
	}
	p.log().Info("message of an unregistered sender given its device", "message", m.ID, "device", dev.Name)
	m, err = p.Store.GetMessage(ctx, nil, m.ID)
	return m, dev, err
}

// process runs the processor and writes its result. It is the common tail
// of Handle, Reprocess and Recover.
func (p *Pipeline) process(ctx context.Context, m *domain.Message, dev *domain.Device, cached bool) error {
	res, perr := p.run(ctx, m, dev, cached)
	var invalid *listeners.InvalidError
	switch {
	case errors.As(perr, &invalid):
		res = &store.IngestResult{Status: domain.MessageError, Reason: invalid.Error()}
	case perr != nil:
		p.log().Error("processing failed; the message stays stored", "message", m.ID, "err", perr)
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, perr)
	}
	if err := p.Store.ApplyIngest(ctx, m.ID, res); err != nil {
		p.log().Error("results not stored; the message stays stored", "message", m.ID, "err", err)
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
	}
	p.log().Info("message processed", "message", m.ID, "device", dev.Name, "status", res.Status,
		"reports", len(res.Reports), "studies", len(res.Studies), "queued", len(res.Recon))
	if invalid != nil {
		return invalid
	}
	return nil
}

func (p *Pipeline) run(ctx context.Context, m *domain.Message, dev *domain.Device, cached bool) (*store.IngestResult, error) {
	proc := p.Processors[listeners.Protocol(m.Protocol)]
	if proc == nil {
		return nil, &listeners.InvalidError{Stage: "map", Reason: fmt.Sprintf("no processor for protocol %q", m.Protocol), Unsupported: true}
	}
	in := Input{Message: m, Device: dev, Lookup: p.Store}
	if dev.CodeMap != "" {
		ttl := p.cacheTTL()
		if !cached {
			ttl = -1
		}
		cm, err := p.codeMaps.get(codeMapKey{dev.OrganizationID, dev.CodeMap}, ttl, func() (*domain.CodeMap, error) {
			return p.Store.GetCodeMap(ctx, dev.OrganizationID, dev.CodeMap)
		})
		switch {
		case err == nil:
			in.CodeMap = cm
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	rejected := map[string]bool{}
	if m.Attempts > 0 { // a message processed before may carry people's decisions
		items, _, err := p.Store.ListRecon(ctx, store.ReconQuery{Orgs: []int64{m.OrganizationID}, MessageID: m.ID,
			Status: "all", Page: store.Page{Limit: 500}})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			switch it.Status {
			case domain.ReconAttached:
				in.Decisions = append(in.Decisions, it)
			case domain.ReconRejected:
				rejected[it.Reason+"|"+it.Key] = true
			}
		}
	}
	res, err := proc.Process(ctx, in)
	if err != nil {
		return nil, err
	}
	// What a person rejected stays rejected: reprocessing (after a code-map
	// fix, say) does not queue it again.
	keep, dropped := res.Recon[:0], 0
	for _, d := range res.Recon {
		if rejected[d.Item.Reason+"|"+d.Item.Key] {
			dropped++
			continue
		}
		keep = append(keep, d)
	}
	res.Recon = keep
	if res.Status == "" {
		switch {
		case len(res.Recon) > 0:
			res.Status = domain.MessageQueued
		case dropped > 0 && len(in.Decisions) == 0:
			res.Status, res.Reason = domain.MessageRejected, "rejected in reconciliation"
		default:
			res.Status = domain.MessageProcessed
		}
	}
	return res, nil
}

// Reprocess runs a stored message through processing again, after a code
// map or device fix. Whatever it produced before is replaced.
func (p *Pipeline) Reprocess(ctx context.Context, orgs []int64, id int64) (*domain.Message, error) {
	m, err := p.Store.GetMessage(ctx, orgs, id)
	if err != nil {
		return nil, err
	}
	if m.Status == domain.MessageDuplicate {
		return nil, &store.ConflictError{Field: "status", Message: fmt.Sprintf("message %d is a resend of %d; reprocess that one", m.ID, m.DuplicateOf)}
	}
	if m.DuplicateOf != 0 {
		// Processing it would attach its values beside the original's.
		return nil, &store.ConflictError{Field: "status", Message: fmt.Sprintf(
			"message %d reuses the key of message %d with different content; it is kept for review and not processed", m.ID, m.DuplicateOf)}
	}
	var dev *domain.Device
	if m.DeviceID == 0 {
		if m, dev, err = p.adopt(ctx, m); err != nil {
			return nil, err
		}
		if dev == nil {
			return nil, &store.ConflictError{Field: "device", Message: "no registered device has the sender's identity and address; register it, then reprocess the message"}
		}
	} else if dev, err = p.Store.GetDevice(ctx, nil, m.DeviceID); err != nil {
		return nil, err
	}
	if err := p.process(ctx, m, dev, false); err != nil {
		var invalid *listeners.InvalidError
		if !errors.As(err, &invalid) {
			return nil, err
		}
	}
	return p.Store.GetMessage(ctx, orgs, id)
}

// Recover processes messages that were stored but never processed — the
// process stopped between the two steps. Run it at start-up, before the
// listeners open.
func (p *Pipeline) Recover(ctx context.Context) (int, error) {
	return p.recoverReceived(ctx, 0)
}

// Retry processes again, every interval until ctx ends, messages a fault
// (the database briefly unavailable, a full disk) left stored but not
// processed for longer than minAge — younger ones may still be in a
// listener's hands. Without it they would wait for a resend or a restart.
func (p *Pipeline) Retry(ctx context.Context, every, minAge time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := p.recoverReceived(ctx, minAge)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log().Warn("retrying stored messages failed; trying again later", "processed", n, "err", err)
		case n > 0:
			p.log().Info("processed messages a fault had left stored", "count", n)
		}
	}
}

// recoverReceived processes the messages stored but not processed whose
// last change is older than minAge (0: all).
func (p *Pipeline) recoverReceived(ctx context.Context, minAge time.Duration) (int, error) {
	n := 0
	seen := map[int64]bool{}
	for {
		ids, err := p.Store.ReceivedMessages(ctx, 100)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		progressed := false
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			m, err := p.Store.GetMessage(ctx, nil, id)
			if err != nil {
				return n, err
			}
			if minAge > 0 && time.Since(m.Updated) < minAge {
				continue
			}
			var dev *domain.Device
			if m.DeviceID == 0 {
				// Stopped before it was queued: the device may have been
				// registered since; else it is queued for review now.
				if m, dev, err = p.adopt(ctx, m); err != nil {
					return n, err
				}
				if dev == nil {
					if err := p.queueUnknown(ctx, m.ID, envelopeOf(m)); err != nil {
						return n, err
					}
					n++
					progressed = true
					continue
				}
			} else if dev, err = p.Store.GetDevice(ctx, nil, m.DeviceID); err != nil {
				return n, err
			}
			if err := p.process(ctx, m, dev, false); err != nil && errors.Is(err, listeners.ErrUnavailable) {
				return n, err
			}
			n++
			progressed = true
		}
		if !progressed {
			return n, nil
		}
	}
}

// Admit decides whether a peer may open a session at all, before it sends
// anything (a DICOM association): nil when a registered device has this
// identity and address, or when the protocol accepts unknown devices;
// listeners.ErrUnknownDevice otherwise.
func (p *Pipeline) Admit(ctx context.Context, env *listeners.Envelope) error {
	dev, err := p.identify(ctx, env)
	if err != nil {
		return fmt.Errorf("%w: %v", listeners.ErrUnavailable, err)
	}
	if dev == nil && !p.AcceptUnknown[env.Protocol] {
		p.log().Warn("session from unregistered device refused", "protocol", env.Protocol, "peer", env.Peer, "identity", identity(env))
		return listeners.ErrUnknownDevice
	}
	return nil
}

// Device is the registered device an envelope's identity names, or nil.
func (p *Pipeline) Device(ctx context.Context, env *listeners.Envelope) (*domain.Device, error) {
	return p.identify(ctx, env)
}

// Encoding is the configured text encoding of the device an envelope comes
// from, found by its identity and address alone ("" when no device, or
// devices of different encodings, claim it). A listener uses it to read
// the header when the message names no charset: fields such as a Cyrillic
// HL7 sending facility, which identify the device, are only readable in
// it.
func (p *Pipeline) Encoding(ctx context.Context, env *listeners.Envelope) string {
	devs, err := p.claimants(ctx, env, p.cacheTTL())
	if err != nil || len(devs) == 0 {
		return ""
	}
	for _, d := range devs[1:] {
		if d.Encoding != devs[0].Encoding {
			return ""
		}
	}
	return devs[0].Encoding
}

// claimants are the registered devices with the envelope's identity whose
// address allow-list admits its peer.
func (p *Pipeline) claimants(ctx context.Context, env *listeners.Envelope, ttl time.Duration) ([]domain.Device, error) {
	id := identity(env)
	if id == "" {
		return nil, nil
	}
	devs, err := p.devices.get(deviceKey{string(env.Protocol), id}, ttl, func() ([]domain.Device, error) {
		return p.Store.FindDevices(ctx, string(env.Protocol), id)
	})
	if err != nil {
		return nil, err
	}
	var out []domain.Device
	for _, d := range devs {
		if len(d.Addresses) == 0 || allowed(d.Addresses, env.Peer) {
			out = append(out, d)
		}
	}
	return out, nil
}

// identify finds the registered device an envelope comes from: the
// protocol's identity field, then the address allow-list, for HL7 the
// sending facility when the device names one, and for ASTM the serial line
// or host and port when the device names one (two analyzers of one model
// send the same H-record sender name). Two devices claiming
// the same identity are ambiguous and treated as unknown.
func (p *Pipeline) identify(ctx context.Context, env *listeners.Envelope) (*domain.Device, error) {
	return p.identifyWithin(ctx, env, p.cacheTTL())
}

// identifyWithin is identify with the device lookup cached for ttl (0: read
// now, as a device registered a moment ago must be found).
func (p *Pipeline) identifyWithin(ctx context.Context, env *listeners.Envelope, ttl time.Duration) (*domain.Device, error) {
	devs, err := p.claimants(ctx, env, ttl)
	if err != nil {
		return nil, err
	}
	var found []domain.Device
	for _, d := range devs {
		if env.Protocol == listeners.HL7 && d.SendingFacility != "" && d.SendingFacility != env.SendingFacility {
			continue
		}
		if env.Protocol == listeners.ASTM && !sameLine(d.Transport, env.Peer) {
			continue
		}
		found = append(found, d)
	}
	if len(found) != 1 {
		if len(found) > 1 {
			p.log().Warn("several devices claim one identity; treated as unknown", "protocol", env.Protocol, "identity", identity(env), "devices", len(found))
		}
		return nil, nil
	}
	return &found[0], nil
}

func identity(env *listeners.Envelope) string {
	switch env.Protocol {
	case listeners.DICOM:
		return env.CallingAE
	case listeners.HL7:
		return env.SendingApplication
	case listeners.ASTM:
		return env.Sender
	}
	return ""
}

// sameLine reports whether an ASTM message came over the device's own
// line: its serial port (the envelope's Peer is the port's path), or the
// host and port medgate connects to. A device without a transport is a TCP
// client of medgate, checked by its address allow-list instead.
func sameLine(t *domain.Transport, peer string) bool {
	switch {
	case t == nil:
		return true
	case t.Serial != "":
		return peer == t.Serial
	case t.Port != 0:
		host, port, err := net.SplitHostPort(peer)
		if err != nil || port != strconv.Itoa(t.Port) {
			return false
		}
		return t.Host == "" || host == t.Host || allowed([]string{t.Host}, peer)
	}
	return true
}

func allowed(addrs []string, peer string) bool {
	host, _, err := net.SplitHostPort(peer)
	if err != nil {
		host = peer
	}
	ip := net.ParseIP(host)
	for _, a := range addrs {
		if ip != nil && ip.Equal(net.ParseIP(a)) {
			return true
		}
	}
	return false
}

func kind(p listeners.Protocol) string {
	if p == listeners.DICOM {
		return "imaging"
	}
	return "lab"
}

// envelopeOf is the provenance of a stored message, as identify reads it.
func envelopeOf(m *domain.Message) *listeners.Envelope {
	return &listeners.Envelope{Protocol: listeners.Protocol(m.Protocol), Listener: m.Listener, Peer: m.Peer,
		CallingAE: m.CallingAE, CalledAE: m.CalledAE, SendingApplication: m.SendingApplication,
		SendingFacility: m.SendingFacility, Sender: m.Sender, Key: m.Key, Type: m.Type, Received: m.Received}
}

func messageOf(env *listeners.Envelope, dev *domain.Device, defaultOrg int64) *domain.Message {
	sum := env.SHA256()
	m := &domain.Message{Protocol: string(env.Protocol), Listener: env.Listener, Peer: env.Peer,
		CallingAE: env.CallingAE, CalledAE: env.CalledAE, SendingApplication: env.SendingApplication,
		SendingFacility: env.SendingFacility, Sender: env.Sender, Key: env.Key, Type: env.Type,
		Received: env.Received, SHA256: hex.EncodeToString(sum[:]), Raw: env.Raw, OrganizationID: defaultOrg}
	if m.Received.IsZero() {
		m.Received = time.Now()
	}
	if dev != nil {
		m.DeviceID, m.OrganizationID = dev.ID, dev.OrganizationID
	}
	return m
}
