package dicom

import (
	"crypto/rand"
	"math/big"
)

// NewUID returns a UUID-derived UID under the 2.25 root (PS3.5 B.2): a
// random (version 4) UUID as one decimal integer. At most 44 characters.
func NewUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	b[6] = b[6]&0x0F | 0x40 // version 4
	b[8] = b[8]&0x3F | 0x80 // RFC 4122 variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}
