// Package events publishes the outbox (store.EventStore) to an MQTT broker.
//
// The store writes each event in the transaction that makes its fact true;
// the Publisher reads pending events in id order, publishes each to
// "<prefix>/<org>/<kind>" with QoS 1 and marks it sent only after the
// broker's PUBACK. While the broker is unreachable events stay in the
// database, so an outage delays events but loses none.
//
// Delivery is at least once: an event acknowledged by the broker but not yet
// marked when the connection or the process dies is published again, and
// reprocessing a message enqueues its events again. Consumers dedupe by the
// ids in the payload. Payloads hold ids, counts and medgate's own codes only
// (see domain.ResultEvent, StudyEvent, ReconEvent) — no personal data.
//
// Run one Publisher per database: several would publish the same events
// (still at least once, with more duplicates).
package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

// Defaults of the Publisher's zero fields.
const (
	DefaultBrokerURL      = "tcp://127.0.0.1:1883"
	DefaultTopicPrefix    = "medgate"
	DefaultPoll           = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultAckTimeout     = 10 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultBatch          = 100
	DefaultRetain         = 7 * 24 * time.Hour
)

// ErrAckTimeout is a publish the broker did not acknowledge in time.
var ErrAckTimeout = errors.New("no PUBACK from the broker in time")

// Publisher delivers outbox events to an MQTT broker. Zero fields take the
// defaults above; fields must not change once Run has started.
type Publisher struct {
	Store store.EventStore

	// BrokerURL is the broker: tcp://host:1883, ssl://host:8883, ws://…
	BrokerURL string
	// ClientID identifies the session to the broker; default
	// "medgate-<hostname>-<pid>". It must differ between instances.
	ClientID string
	// Username and Password, if set, authenticate to the broker.
	Username string
	Password string
	// TopicPrefix starts every topic: "<prefix>/<org>/<kind>".
	TopicPrefix string

	Logger *slog.Logger
	// Poll is how often the outbox is read while idle (see Notify).
	Poll time.Duration
	// MaxBackoff caps the wait between attempts while the broker is
	// unreachable; the wait starts at Poll and doubles.
	MaxBackoff time.Duration
	// AckTimeout bounds the wait for a PUBACK; ConnectTimeout a connection.
	AckTimeout     time.Duration
	ConnectTimeout time.Duration
	// Batch is how many events are published before waiting for their
	// acknowledgements (in order) and marking them sent in one transaction.
	Batch int
	// Retain is how long delivered events stay in the outbox (for audit
	// and replay by hand) before they are purged; 0 means DefaultRetain.
	Retain time.Duration

	wakeOnce sync.Once
	wake     chan struct{}

	connected atomic.Bool
	published atomic.Uint64
	failures  atomic.Uint64
	connects  atomic.Uint64
	mu        sync.Mutex
	lastErr   string
	lastErrAt time.Time
}

// Stats is a snapshot of a Publisher's state for metrics and health checks.
type Stats struct {
	Connected   bool      // a broker session is up
	Published   uint64    // events acknowledged by the broker and marked sent
	Failures    uint64    // failed connections and deliveries
	Connects    uint64    // sessions established
	LastError   string    // the latest failure, empty if none
	LastErrorAt time.Time // when it happened
}

// Stats returns the Publisher's counters. Safe for concurrent use.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Connected: p.connected.Load(), Published: p.published.Load(), Failures: p.failures.Load(),
		Connects: p.connects.Load(), LastError: p.lastErr, LastErrorAt: p.lastErrAt,
	}
}

// Notify wakes the Publisher to read the outbox now rather than at the next
// poll; call it after committing a transaction that enqueued events. It
// never blocks and may be called before or without Run.
func (p *Publisher) Notify() {
	select {
	case p.wakeC() <- struct{}{}:
	default:
	}
}

func (p *Publisher) wakeC() chan struct{} {
	p.wakeOnce.Do(func() { p.wake = make(chan struct{}, 1) })
	return p.wake
}

// config is a Publisher's settings with the defaults applied.
type config struct {
	url, clientID, prefix   string
	poll, maxBackoff        time.Duration
	ackTimeout, connTimeout time.Duration
	batch                   int
	retain                  time.Duration
	log                     *slog.Logger
	brokerForLog            string
	username, password      string
}

func (p *Publisher) config() (*config, error) {
	c := &config{
		url: p.BrokerURL, clientID: p.ClientID, prefix: strings.TrimSuffix(p.TopicPrefix, "/"),
		poll: p.Poll, maxBackoff: p.MaxBackoff, ackTimeout: p.AckTimeout, connTimeout: p.ConnectTimeout,
		batch: p.Batch, retain: p.Retain, log: p.Logger, username: p.Username, password: p.Password,
	}
	if p.Store == nil {
		return nil, errors.New("events: Publisher.Store is nil")
	}
	if c.url == "" {
		c.url = DefaultBrokerURL
	}
	u, err := url.Parse(c.url)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("events: broker URL %q: want scheme://host:port", redact(c.url))
	}
	c.brokerForLog = u.Redacted()
	if c.clientID == "" {
		host, _ := os.Hostname()
		c.clientID = "medgate-" + host + "-" + strconv.Itoa(os.Getpid())
	}
	if c.prefix == "" {
		c.prefix = DefaultTopicPrefix
	}
	if strings.ContainsAny(c.prefix, "+#\x00") {
		return nil, fmt.Errorf("events: topic prefix %q: MQTT wildcards are not allowed in a topic", c.prefix)
	}
	if c.poll <= 0 {
		c.poll = DefaultPoll
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.ackTimeout <= 0 {
		c.ackTimeout = DefaultAckTimeout
	}
	if c.connTimeout <= 0 {
		c.connTimeout = DefaultConnectTimeout
	}
	if c.batch <= 0 {
		c.batch = DefaultBatch
	}
	if c.retain <= 0 {
		c.retain = DefaultRetain
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

// purge deletes delivered events older than retain, now and then every
// retain/24, in batches, until ctx ends.
func (p *Publisher) purge(ctx context.Context, c *config) {
	every := max(c.retain/24, 50*time.Millisecond)
	for {
		total := 0
		for {
			n, err := p.Store.PurgeSentEvents(ctx, time.Now().Add(-c.retain), 1000)
			if err != nil {
				if ctx.Err() == nil {
					c.log.Warn("events: purging delivered events failed", "err", err)
				}
				break
			}
			total += n
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			c.log.Info("events: delivered events purged", "count", total, "older_than", c.retain)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Topic is where an event is published.
func Topic(prefix string, ev domain.OutboxEvent) string {
	return prefix + "/" + strconv.FormatInt(ev.OrganizationID, 10) + "/" + ev.Kind
}

// Run delivers events until ctx ends, then returns nil. A broker outage or
// a store error is logged and retried with backoff, never returned; Run
// returns an error only for a configuration it cannot use.
func (p *Publisher) Run(ctx context.Context) error {
	c, err := p.config()
	if err != nil {
		return err
	}
	wake := p.wakeC()
	purged := make(chan struct{})
	go func() { defer close(purged); p.purge(ctx, c) }()
	defer func() { <-purged }()
	c.log.Info("events: publishing the outbox", "broker", c.brokerForLog, "client_id", c.clientID, "topic_prefix", c.prefix)
	var backoff time.Duration
	for {
		progress, err := p.session(ctx, c, wake)
		// A delivery that failed is counted even when shutdown follows
		// at once; only the cancellation itself is not a failure.
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			p.fail(err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("session ended")
			p.fail(err)
		}
		if progress {
			backoff = 0
		}
		backoff = min(max(2*backoff, c.poll), c.maxBackoff)
		c.log.Warn("events: delivery interrupted, events stay queued", "broker", c.brokerForLog,
			"err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (p *Publisher) fail(err error) {
	p.failures.Add(1)
	p.mu.Lock()
	p.lastErr, p.lastErrAt = err.Error(), time.Now()
	p.mu.Unlock()
}

// session connects and delivers until the connection fails or ctx ends;
// progress says whether any event was delivered.
func (p *Publisher) session(ctx context.Context, c *config, wake chan struct{}) (progress bool, err error) {
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().
		AddBroker(c.url).
		SetClientID(c.clientID).
		SetCleanSession(true). // this loop, not the client, retries unacknowledged events
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true).
		SetConnectTimeout(c.connTimeout).
		SetWriteTimeout(c.ackTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if c.username != "" {
		opts.SetUsername(c.username)
	}
	if c.password != "" {
		opts.SetPassword(c.password)
	}
	client := mqtt.NewClient(opts)
	tok := client.Connect()
	timer := time.NewTimer(c.connTimeout + time.Second)
	select {
	case <-tok.Done():
		timer.Stop()
	case <-timer.C:
		client.Disconnect(0)
		return false, p.headFailed(ctx, fmt.Errorf("connect: no answer in %v", c.connTimeout))
	case <-ctx.Done():
		timer.Stop()
		client.Disconnect(0)
		return false, nil
	}
	if err := tok.Error(); err != nil {
		return false, p.headFailed(ctx, fmt.Errorf("connect: %w", err))
	}
	p.connects.Add(1)
	p.connected.Store(true)
	c.log.Info("events: connected to the broker", "broker", c.brokerForLog)
	defer func() {
		p.connected.Store(false)
		client.Disconnect(250)
	}()

	poll := time.NewTicker(c.poll)
	defer poll.Stop()
	for {
		evs, err := p.Store.PendingEvents(ctx, c.batch)
		if err != nil {
			if ctx.Err() != nil {
				return progress, nil
			}
			return progress, fmt.Errorf("read the outbox: %w", err)
		}
		if len(evs) > 0 {
			n, err := p.publish(ctx, c, client, evs, lost)
			progress = progress || n > 0
			if err != nil || ctx.Err() != nil {
				return progress, err
			}
			if len(evs) == c.batch {
				continue // more may be waiting
			}
		}
		select {
		case <-ctx.Done():
			return progress, nil
		case err := <-lost:
			return progress, fmt.Errorf("connection lost: %w", err)
		case <-wake:
		case <-poll.C:
		}
	}
}

// headFailed records a failure to connect on the oldest pending event, the
// one held up, so the outbox shows why events are waiting.
func (p *Publisher) headFailed(ctx context.Context, err error) error {
	if evs, perr := p.Store.PendingEvents(ctx, 1); perr == nil && len(evs) == 1 {
		_ = p.Store.MarkEventFailed(ctx, evs[0].ID, err.Error())
	}
	return err
}

// publish sends evs in order, waits for their acknowledgements in order and
// marks the acknowledged prefix sent. At the first failure the rest stay
// pending (republished, in order, by the next session) and the failed
// event's attempt is recorded. It returns how many were marked sent.
// A lost connection ends the wait at once: paho may never complete a token
// queued while the connection was going down.
func (p *Publisher) publish(ctx context.Context, c *config, client mqtt.Client, evs []domain.OutboxEvent, lost <-chan error) (int, error) {
	// Publish itself can block for the write timeout when the connection
	// dies under it, so it runs apart and the wait watches for the loss.
	tokens := make([]mqtt.Token, len(evs))
	ready := make(chan struct{}, len(evs))
	go func() {
		for i, ev := range evs {
			tokens[i] = client.Publish(Topic(c.prefix, ev), 1, false, []byte(ev.Payload))
			ready <- struct{}{}
		}
	}()
	deadline := time.NewTimer(c.ackTimeout)
	defer deadline.Stop()
	// await receives from done unless the deadline, a lost connection or
	// ctx comes first; then it says why (nil for ctx).
	await := func(done <-chan struct{}) (bool, error) {
		select {
		case <-done:
			return true, nil
		case <-deadline.C:
			return false, ErrAckTimeout
		case err := <-lost:
			return false, fmt.Errorf("connection lost: %w", err)
		case <-ctx.Done():
			return false, nil
		}
	}
	acked := 0
	var failure error
	for i := range evs {
		ok, err := await(ready)
		if ok {
			ok, err = await(tokens[i].Done())
		}
		if !ok {
			failure = err
			break
		}
		if err := tokens[i].Error(); err != nil {
			failure = fmt.Errorf("publish: %w", err)
			break
		}
		acked = i + 1
		// Each acknowledgement gives the next one the full timeout (Go 1.23
		// timers: Reset never leaves a stale tick behind).
		deadline.Reset(c.ackTimeout)
	}
	// The outcome is recorded even when ctx has ended: an acknowledged event
	// left unmarked would be published again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if acked > 0 {
		sent := make([]int64, acked)
		for i := range acked {
			sent[i] = evs[i].ID
		}
		if err := p.Store.MarkEventSent(mctx, sent...); err != nil {
			return 0, fmt.Errorf("mark %d events sent (they will be published again): %w", acked, err)
		}
		p.published.Add(uint64(acked))
		c.log.Debug("events: published", "count", acked, "last_id", evs[acked-1].ID)
	}
	if failure != nil {
		if err := p.Store.MarkEventFailed(mctx, evs[acked].ID, failure.Error()); err != nil {
			c.log.Warn("events: recording a failed delivery", "event", evs[acked].ID, "err", err)
		}
		return acked, failure
	}
	return acked, nil
}
