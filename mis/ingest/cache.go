package ingest

import (
	"sync"
	"time"
)

// DefaultCacheTTL is how long Handle reuses a device or code-map lookup.
// A device or code map changed through the API applies to messages
// arriving up to this long later; Reprocess and Recover always read afresh.
const DefaultCacheTTL = 2 * time.Second

// ttlCache remembers loaded values for a while: every message would
// otherwise read its device and its whole code map from the database,
// about a fifth of the ingest path's CPU.
type ttlCache[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

// get returns the cached value for k, or loads and caches it. Errors are
// not cached. ttl <= 0 disables caching.
func (c *ttlCache[K, V]) get(k K, ttl time.Duration, load func() (V, error)) (V, error) {
	if ttl <= 0 {
		return load()
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) > 10000 { // bounded: identities come from the network
		c.entries = map[K]ttlEntry[V]{}
	}
	c.entries[k] = ttlEntry[V]{v: v, expires: now.Add(ttl)}
	c.mu.Unlock()
	return v, nil
}
