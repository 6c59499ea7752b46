package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/store"
)

// testLeases: one holder per lease name; a released lease can be taken;
// RunLeased runs one holder at a time and hands over when it stops.
func testLeases(t *testing.T, open opener) {
	e := begin(t, open)
	name := "test-" + t.Name()
	a, ok, err := e.s.TryLease(e.ctx, name)
	if err != nil || !ok {
		t.Fatalf("first TryLease: ok %v, %v", ok, err)
	}
	if _, ok, err := e.s.TryLease(e.ctx, name); err != nil || ok {
		t.Fatalf("second TryLease of a held lease: ok %v, %v", ok, err)
	}
	b, ok, err := e.s.TryLease(e.ctx, name+"-other")
	if err != nil || !ok {
		t.Fatalf("another name: ok %v, %v", ok, err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Lost():
		t.Error("a released lease reports itself lost")
	default:
	}
	c, ok, err := e.s.TryLease(e.ctx, name)
	if err != nil || !ok {
		t.Fatalf("TryLease after Release: ok %v, %v", ok, err)
	}
	c.Release()
	b.Release()

	// Two runners: never both inside; the second takes over when the first stops.
	var inside, peak, runs atomic.Int32
	fn := func(ctx context.Context) error {
		runs.Add(1)
		if n := inside.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		<-ctx.Done()
		inside.Add(-1)
		return nil
	}
	ctx1, stop1 := context.WithCancel(e.ctx)
	ctx2, stop2 := context.WithCancel(e.ctx)
	defer stop2()
	done1 := make(chan struct{})
	go func() { store.RunLeased(ctx1, e.s, name, 20*time.Millisecond, nil, fn); close(done1) }()
	waitUntil(t, "the first runner", func() bool { return runs.Load() == 1 })
	go store.RunLeased(ctx2, e.s, name, 20*time.Millisecond, nil, fn)
	time.Sleep(100 * time.Millisecond)
	if runs.Load() != 1 {
		t.Fatalf("%d runs while the lease is held, want 1", runs.Load())
	}
	stop1()
	<-done1
	waitUntil(t, "the second runner to take over", func() bool { return runs.Load() == 2 })
	if peak.Load() != 1 {
		t.Errorf("%d runners inside at once", peak.Load())
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
