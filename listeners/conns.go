package listeners

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conns is the bookkeeping every listener's server shares: the net
// listeners it serves, the connections it holds, and whether it is
// shutting down. The zero value is ready to use.
type Conns struct {
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closing   atomic.Bool
}

// Listen records ln for the span of a server's Serve, closing ln and every
// held connection at once if ctx ends. It returns the function Serve defers
// (forget and close ln), or false when shutting down: then ln is closed
// and the caller returns its ErrServerClosed.
func (s *Conns) Listen(ctx context.Context, ln net.Listener) (done func(), ok bool) {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil, false
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.CloseAll()
	})
	return func() {
		stop()
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}, true
}

// Track records c unless max connections are held or the server is
// shutting down.
func (s *Conns) Track(c net.Conn, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= max || s.closing.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

// Untrack forgets c.
func (s *Conns) Untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Closing reports whether Shut was called.
func (s *Conns) Closing() bool { return s.closing.Load() }

// Shut marks the server as shutting down and closes its listeners; it
// reports whether this was the first call.
func (s *Conns) Shut() bool {
	first := !s.closing.Swap(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	return first
}

// CloseAll closes every held connection.
func (s *Conns) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Drain waits until no connection is held, calling nudge (if not nil) on
// each every poll so that idle ones notice; when ctx ends first it closes
// them all and returns ctx.Err().
func (s *Conns) Drain(ctx context.Context, nudge func(net.Conn)) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		if nudge != nil {
			for c := range s.conns {
				nudge(c)
			}
		}
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.CloseAll()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ErrShutdown is what Accept returns once Shut was called; servers answer
// their own ErrServerClosed.
var ErrShutdown = errors.New("listener shut down")

// Accept waits for a connection on ln, retrying temporary failures with a
// growing pause. It returns ErrShutdown after Shut, ctx.Err() once ctx
// ends, or the listener's error.
func (s *Conns) Accept(ctx context.Context, ln net.Listener, log *slog.Logger) (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err == nil {
			return c, nil
		}
		if s.closing.Load() {
			return nil, ErrShutdown
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return nil, err
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		log.Warn("accept failed; retrying", "err", err, "in", backoff)
		time.Sleep(backoff)
	}
}
