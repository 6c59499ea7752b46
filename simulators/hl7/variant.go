package hl7

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
)

// Variant names a malformed or hostile way of sending a message.
type Variant string

// The variants. VariantInfo documents the ACK medgate gives each.
const (
	Normal               Variant = ""
	BadMSH               Variant = "bad-msh"
	TruncatedFrame       Variant = "truncated-frame"
	Oversize             Variant = "oversize"
	WrongCharset         Variant = "wrong-charset"
	NoMSH10              Variant = "no-msh10"
	GarbageBetweenFrames Variant = "garbage-between-frames"
	SplitFrames          Variant = "split-frames"
)

// VariantInfo describes a variant and the answer a receiver following
// medgate's rules gives it.
type VariantInfo struct {
	Name        Variant
	Description string
	// Expect is the MSA-1 the receiver answers in original mode; in
	// enhanced mode (MSH-15 AL, MSH-16 NE) the commit ACK answers storage
	// alone: CA for a message kept (AA and AE alike), CR for one refused.
	Expect string
	// EmptyMSA2: the receiver cannot know MSH-10, so MSA-2 is empty and
	// that is what is checked.
	EmptyMSA2 bool
	// Closes: the receiver closes the connection after answering.
	Closes bool
}

// Variants lists every variant with its documented ACK.
var Variants = []VariantInfo{
	{Normal, "well-formed message, one frame in one write", "AA", false, false},
	{BadMSH, "MSH-2 with repeated encoding characters (MSH|^^\\&|…): the header cannot be read", "AR", true, false},
	{TruncatedFrame, "half a frame (start block, no end block), then the complete message in its own frame: the truncated part is dropped without an answer", "AA", false, false},
	{Oversize, "one frame larger than the limit (-oversize-mib, default 17 MiB > medgate's 16 MiB); answered as soon as the limit is passed", "AR", false, true},
	{WrongCharset, "windows-1251 bytes while MSH-18 says UNICODE UTF-8: the message cannot be decoded; raw bytes kept", "AE", false, false},
	{NoMSH10, "MSH-10 (control ID) empty: the answer cannot name the message", "AA", true, false},
	{GarbageBetweenFrames, "NULs, line feeds and text before each frame; the receiver skips them", "AA", false, false},
	{SplitFrames, "each frame written in many small writes with pauses (-split-bytes, -split-pause)", "AA", false, false},
}

// LookupVariant returns the variant named name ("" or "none" is Normal).
func LookupVariant(name string) (VariantInfo, error) {
	if name == "none" {
		name = ""
	}
	for _, v := range Variants {
		if string(v.Name) == name {
			return v, nil
		}
	}
	names := make([]string, 0, len(Variants))
	for _, v := range Variants[1:] {
		names = append(names, string(v.Name))
	}
	return VariantInfo{}, fmt.Errorf("unknown variant %q (want %s)", name, strings.Join(names, ", "))
}

// Frame returns msg as one MLLP frame, written by listeners/mllp's Writer.
func Frame(msg []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(msg) + 3)
	if err := mllp.NewWriter(&b).WriteMessage(msg); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// headerLine returns the end of the first segment.
func headerEnd(msg []byte) int {
	if i := bytes.IndexAny(msg, "\r\n"); i >= 0 {
		return i
	}
	return len(msg)
}

// MSHField returns the raw MSH-n of an encoded message, "" when absent.
// It reads bytes, so it works in any charset (the header is ASCII).
func MSHField(msg []byte, n int) string {
	if len(msg) < 4 || !bytes.HasPrefix(msg, []byte("MSH")) || n < 2 {
		return ""
	}
	parts := bytes.Split(msg[:headerEnd(msg)], msg[3:4])
	if n-1 >= len(parts) {
		return ""
	}
	return string(parts[n-1])
}

// SetMSHField returns a copy of msg with raw MSH-n (n ≥ 2) replaced.
func SetMSHField(msg []byte, n int, raw string) []byte {
	if len(msg) < 4 || !bytes.HasPrefix(msg, []byte("MSH")) || n < 2 {
		return bytes.Clone(msg)
	}
	end := headerEnd(msg)
	parts := bytes.Split(msg[:end], msg[3:4])
	for len(parts) < n {
		parts = append(parts, nil)
	}
	parts[n-1] = []byte(raw)
	out := bytes.Join(parts, msg[3:4])
	return append(out, msg[end:]...)
}

// MakeBadMSH returns msg with MSH-2 replaced by repeated encoding
// characters, which no receiver can take delimiters from.
func MakeBadMSH(msg []byte) []byte { return SetMSHField(msg, 2, `^^\&`) }

// MakeNoMSH10 returns msg with MSH-10 emptied.
func MakeNoMSH10(msg []byte) []byte { return SetMSHField(msg, 10, "") }

// MakeOversize returns msg with an NTE segment appended that makes it at
// least size bytes.
func MakeOversize(msg []byte, size int) []byte {
	out := bytes.Clone(msg)
	if len(out) > 0 && out[len(out)-1] != '\r' {
		out = append(out, '\r')
	}
	out = append(out, "NTE|1||"...)
	if n := size - len(out) + 1; n > 0 {
		out = append(out, bytes.Repeat([]byte("X"), n)...)
	}
	return append(out, '\r')
}

// WrongCharsetParams returns p set up to write windows-1251 bytes while
// MSH-18 declares UNICODE UTF-8.
func WrongCharsetParams(p Params) Params {
	p.Charset, p.MSH18, p.NoMSH18 = "windows-1251", "UNICODE UTF-8", false
	return p
}

// Garbage is what GarbageBetweenFrames writes before a frame: NULs, line
// feeds and text, never a frame byte.
var Garbage = []byte("\x00\x00\r\n\n garbage between frames 0123456789 \x00\xff\xfe\r\n")

// MakeTruncated returns the first half of first's frame (start block, no
// end block) followed by the whole frame of next.
func MakeTruncated(first, next []byte) ([]byte, error) {
	f1, err := Frame(first)
	if err != nil {
		return nil, err
	}
	f2, err := Frame(next)
	if err != nil {
		return nil, err
	}
	return append(f1[:len(f1)/2:len(f1)/2], f2...), nil
}

// Split cuts b into chunks of at most size bytes.
func Split(b []byte, size int) [][]byte {
	if size <= 0 {
		size = 1
	}
	var out [][]byte
	for len(b) > size {
		out = append(out, b[:size])
		b = b[size:]
	}
	return append(out, b)
}

// wire is one exchange: what to write and what answer to expect.
type wire struct {
	writes     [][]byte // each written with its own Write call
	pause      time.Duration
	controlID  string // the MSH-10 sent (for reports)
	wantMSA2   string
	concurrent bool // read the answer while still writing (oversize)
	closeAfter bool // start a new connection after this exchange
}
