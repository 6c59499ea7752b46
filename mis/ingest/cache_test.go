package ingest

import (
	"errors"
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	var c ttlCache[string, int]
	loads := 0
	load := func() (int, error) { loads++; return loads, nil }
	if v, _ := c.get("a", time.Hour, load); v != 1 {
		t.Fatalf("first get = %d", v)
	}
	if v, _ := c.get("a", time.Hour, load); v != 1 || loads != 1 {
		t.Errorf("cached get = %d after %d loads", v, loads)
	}
	if v, _ := c.get("a", -1, load); v != 2 {
		t.Errorf("uncached get = %d", v)
	}
	if v, _ := c.get("b", time.Nanosecond, load); v != 3 {
		t.Errorf("get b = %d", v)
	}
	time.Sleep(time.Millisecond)
	if v, _ := c.get("b", time.Nanosecond, load); v != 4 {
		t.Errorf("expired get = %d, want a reload", v)
	}
	boom := errors.New("db down")
	if _, err := c.get("c", time.Hour, func() (int, error) { return 0, boom }); err != boom {
		t.Errorf("error = %v", err)
	}
	if v, _ := c.get("c", time.Hour, load); v != 5 {
		t.Errorf("an error was cached: %d", v)
	}
}
