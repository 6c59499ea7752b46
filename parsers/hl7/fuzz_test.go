package hl7

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

const fuzzMaxSize = 1 << 16

func addSeeds(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join(casesDir, "*", "input.hl7"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed inputs: %v", err)
	}
	for i, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(len(data)/2), uint8(i))
	}
	f.Add(cbcORU(), uint16(100), uint8(0))
	f.Add([]byte("MSH|^~\\&#|A|B|||20240101||ADT^A01|1|P|2.7|\rPID|||1\\F\\2\\Xe282ac\\^^&\\.br\\\r"), uint16(7), uint8(3))
	f.Add([]byte("MSH|^~\\&|||||||ORU^R01|1|P|2.5\rOBX|1|NM|x||<2,5|10^9/L| OBX|2|ST\r\n"), uint16(40), uint8(0xff))
}

// fuzzOptions derives parser options from one byte so the fuzzer explores
// every lenient flag and default charset.
func fuzzOptions(flags uint8) Options {
	charsets := []string{"utf-8", "windows-1251", "iso-8859-5", "cp866", "ascii", "iso-8859-1", "utf-8", "koi8-r"}
	return Options{
		DefaultCharset: charsets[flags>>5],
		MaxSize:        fuzzMaxSize,
		Lenient: Lenient{
			UnescapedDelimiters: flags&1 != 0,
			GluedSegments:       flags&2 != 0,
			IgnoreMSH18:         flags&4 != 0,
			SniffUTF8:           flags&8 != 0,
			UnknownCharset:      flags&16 != 0,
		},
	}
}

// exercise checks that Encode re-parses to the same message and, when
// deep, reads everything a caller can read, to find panics in the lazy
// accessors.
func exercise(t *testing.T, m *Message, opts Options, deep bool) {
	t.Helper()
	for i := range m.Segments {
		if !deep {
			break
		}
		s := &m.Segments[i]
		for n := 0; n <= s.NumFields(); n++ {
			_ = dumpField(s.Field(n))
		}
		callAccessors(s, func(string, reflect.Value, error) {})
		if o := (OBX{s}); o.Name == "OBX" {
			_ = o.Values()
		}
	}
	_ = m.ObservationGroups()
	enc := m.Encode()
	o := opts
	o.DefaultCharset = m.Charset
	o.MaxSize = -1
	back, err := Parse(enc, o)
	if err != nil {
		t.Fatalf("Encode output does not parse: %v\ninput %q\nencoded %q", err, m.text(), enc)
	}
	if !back.Equal(m) {
		t.Fatalf("Parse(Encode(m)) != m\nbefore %q\nafter  %q", m.text(), back.text())
	}
	if ack := BuildACK(m, Ack{Code: "AE", ControlID: "1", Errors: []AckError{{Segment: "PID", Sequence: 1, Field: 3, Code: 101, Text: "x"}}}); ack != nil {
		ao := o
		ao.DefaultCharset = ack.Charset
		if _, err := Parse(ack.Encode(), ao); err != nil {
			t.Fatalf("ACK of a parsed message does not parse: %v\n%q", err, ack.Encode())
		}
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, k uint16, flags uint8) {
		opts := fuzzOptions(flags)
		m, err := Parse(data, opts)
		if len(data) > fuzzMaxSize {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("input over MaxSize not refused: %v", err)
			}
			return
		}
		var pe *ParseError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error is not a *ParseError: %T %v", err, err)
		}
		if err == nil {
			exercise(t, m, opts, true)
		}

		// The input split in two: each part alone must not panic, and a
		// prefix cut at a segment boundary is the same message with fewer
		// segments.
		cut := int(k) % (len(data) + 1)
		pm, perr := Parse(data[:cut], opts)
		if perr == nil {
			exercise(t, pm, opts, false)
		}
		if sm, serr := Parse(data[cut:], opts); serr == nil {
			exercise(t, sm, opts, false)
		}
		if err == nil && cut > 0 && (data[cut-1] == '\r' || data[cut-1] == '\n') {
			if perr != nil {
				// A prefix may lose the multi-byte sequences that made
				// SniffUTF8 switch to UTF-8; that is the only excuse.
				if !opts.Lenient.SniffUTF8 {
					t.Fatalf("prefix at a segment boundary fails: %v", perr)
				}
				return
			}
			if len(pm.Segments) > len(m.Segments) {
				t.Fatalf("prefix has more segments (%d) than the whole (%d)", len(pm.Segments), len(m.Segments))
			}
			if pm.Charset == m.Charset {
				for i := range pm.Segments {
					if pm.Segments[i].Raw() != m.Segments[i].Raw() {
						t.Fatalf("segment %d of prefix differs", i+1)
					}
				}
			}
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, k uint16, flags uint8) {
		opts := fuzzOptions(flags)
		msgs, err := ParseBatch(data, opts)
		if len(data) > fuzzMaxSize {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("input over MaxSize not refused: %v", err)
			}
			return
		}
		for _, m := range msgs {
			if m != nil {
				exercise(t, m, opts, true)
			}
		}
		// SplitMessages hands the listener pieces of the frame, in order,
		// none empty, one per message ParseBatch finds when it finds several.
		parts := SplitMessages(data)
		rest := data
		for _, p := range parts {
			i := bytes.Index(rest, p)
			if (len(p) == 0 && len(parts) > 1) || i < 0 {
				t.Fatalf("SplitMessages piece %q not in order in the input", p)
			}
			rest = rest[i+len(p):]
		}
		if len(parts) > 1 && msgs != nil && len(parts) != len(msgs) {
			t.Fatalf("SplitMessages finds %d messages, ParseBatch %d", len(parts), len(msgs))
		}
		if b, berr := SplitBatch(data, opts); berr == nil {
			if msgs != nil && len(b.Messages) != len(msgs) {
				t.Fatalf("SplitBatch finds %d messages, ParseBatch %d", len(b.Messages), len(msgs))
			}
			_ = BuildBatchACK(b, b.Messages, "1", time.Time{})
		}
		if msgs == nil {
			return
		}
		// Split before a line that starts a message: the two halves parse
		// to the same messages as the whole.
		cut := int(k) % (len(data) + 1)
		for cut < len(data) && !(cut > 0 && (data[cut-1] == '\r' || data[cut-1] == '\n') && bytes.HasPrefix(data[cut:], []byte("MSH"))) {
			cut++
		}
		if cut >= len(data) {
			return
		}
		left, lerr := ParseBatch(data[:cut], opts)
		right, rerr := ParseBatch(data[cut:], opts)
		if left == nil || right == nil {
			// One half holds only envelope segments or blank lines.
			if lerr == nil && left == nil || rerr == nil && right == nil {
				t.Fatal("nil result without an error")
			}
			return
		}
		both := append(left, right...)
		if len(both) != len(msgs) {
			t.Fatalf("halves give %d messages, whole gives %d", len(both), len(msgs))
		}
		for i := range msgs {
			if (msgs[i] == nil) != (both[i] == nil) || (msgs[i] != nil && !msgs[i].Equal(both[i])) {
				t.Fatalf("message %d differs between the whole and the halves", i+1)
			}
		}
	})
}
