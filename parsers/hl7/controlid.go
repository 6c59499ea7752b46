package hl7

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ControlIDs issues the MSH-10 of the messages a process sends: Prefix
// ("MG" when empty),
// the second of the first use and five random base-36 digits (so that two
// processes, or one restarted within a second, differ), then a base-36
// sequence number — 2+6+5 characters and the sequence for a two-letter
// prefix, within MSH-10's 20. The zero value is ready.
type ControlIDs struct {
	Prefix string

	once sync.Once
	base string
	seq  atomic.Uint64
}

// Next returns a new control ID.
func (c *ControlIDs) Next() string {
	c.once.Do(func() {
		r := strconv.FormatUint(rand.Uint64N(36*36*36*36*36), 36)
		prefix := c.Prefix
		if prefix == "" {
			prefix = "MG"
		}
		c.base = prefix + strconv.FormatInt(time.Now().Unix(), 36) + strings.Repeat("0", 5-len(r)) + r
	})
	return c.base + strconv.FormatUint(c.seq.Add(1), 36)
}
