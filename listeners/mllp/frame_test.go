package mllp

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func frame(s string) string { return "\x0b" + s + "\x1c\r" }

// readAll reads every frame; an oversized one appears as "TOOLARGE:"+prefix.
func readAll(t testing.TB, r io.Reader, limit int) ([]string, error) {
	rd := NewReader(r)
	rd.MaxSize = limit
	var out []string
	for range 1 << 20 {
		msg, err := rd.ReadMessage()
		if limit > 0 && len(rd.buf) > max(4096, 2*(limit+2)) {
			t.Fatalf("buffer grew to %d bytes for a %d-byte limit", len(rd.buf), limit)
		}
		var tl *TooLargeError
		switch {
		case errors.As(err, &tl):
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("TooLargeError does not match ErrTooLarge")
			}
			out = append(out, "TOOLARGE:"+string(tl.Prefix))
		case err != nil:
			return out, err
		default:
			out = append(out, string(msg))
		}
	}
	t.Fatal("reader never ended")
	return nil, nil
}

// reference is a byte-at-a-time model of the framing rules.
func reference(data []byte, limit int) ([]string, error) {
	var out []string
	in, discard := false, false
	var cur []byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == StartBlock {
			in, discard, cur = true, false, cur[:0]
			continue
		}
		if !in {
			continue
		}
		if c == EndBlock && i+1 == len(data) {
			break
		}
		if c == EndBlock && data[i+1] == CR {
			i++
			in = false
			if !discard {
				out = append(out, string(cur))
			}
			continue
		}
		if discard {
			continue
		}
		cur = append(cur, c)
		if len(cur) > limit {
			out = append(out, "TOOLARGE:"+string(cur[:min(limit, PrefixSize)]))
			discard = true
		}
	}
	if in && !discard {
		return out, io.ErrUnexpectedEOF
	}
	return out, io.EOF
}

type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func TestReader(t *testing.T) {
	cases := []struct {
		name, in string
		limit    int
		want     []string
		err      error
	}{
		{"one", frame("MSH|a"), 0, []string{"MSH|a"}, io.EOF},
		{"several", frame("A") + frame("B") + frame("C"), 0, []string{"A", "B", "C"}, io.EOF},
		{"noise", "\x00\x00\r\nxx" + frame("A") + "\x00\n" + frame("B") + "\x00", 0, []string{"A", "B"}, io.EOF},
		{"empty frame", frame(""), 0, []string{""}, io.EOF},
		{"fs inside", frame("a\x1cb"), 0, []string{"a\x1cb"}, io.EOF},
		{"truncated then restart", "\x0bMSH|trunc" + frame("B"), 0, []string{"B"}, io.EOF},
		{"eof in frame", frame("A") + "\x0bMSH", 0, []string{"A"}, io.ErrUnexpectedEOF},
		{"eof after fs", "\x0bMSH\x1c", 0, nil, io.ErrUnexpectedEOF},
		{"too large then ok", frame("0123456789ABC") + frame("ok"), 10, []string{"TOOLARGE:0123456789", "ok"}, io.EOF},
		{"exactly limit", frame("0123456789"), 10, []string{"0123456789"}, io.EOF},
		{"empty", "", 0, nil, io.EOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			readers := map[string]func() io.Reader{
				"whole":   func() io.Reader { return bytes.NewReader([]byte(c.in)) },
				"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader([]byte(c.in))) },
				"half": func() io.Reader {
					h := len(c.in) / 2
					return &chunkReader{[][]byte{[]byte(c.in[:h]), []byte(c.in[h:])}}
				},
			}
			for name, mk := range readers {
				got, err := readAll(t, mk(), c.limit)
				if !slices.Equal(got, c.want) || err != c.err {
					t.Errorf("%s: got %q, %v; want %q, %v", name, got, err, c.want, c.err)
				}
			}
		})
	}
}

func TestReaderSkipped(t *testing.T) {
	rd := NewReader(bytes.NewReader([]byte("\x00\x00\n" + frame("A") + "xyz" + frame("B"))))
	for range 2 {
		if _, err := rd.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if rd.Skipped() != 6 {
		t.Errorf("Skipped = %d, want 6", rd.Skipped())
	}
}

func TestReaderLargeFrame(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	in := frame(string(big)) + frame("small")
	got, err := readAll(t, bytes.NewReader([]byte(in)), 0)
	if err != io.EOF || len(got) != 2 || got[0] != string(big) || got[1] != "small" {
		t.Fatalf("got %d frames, %v", len(got), err)
	}
}

func TestReaderErrorNotSticky(t *testing.T) {
	// A read error mid-frame is returned; the buffered bytes survive it.
	r := &errOnceReader{chunks: []string{"\x0bMSH|", "", "rest\x1c\r"}}
	rd := NewReader(r)
	if _, err := rd.ReadMessage(); !errors.Is(err, errTest) {
		t.Fatalf("err = %v, want errTest", err)
	}
	msg, err := rd.ReadMessage()
	if err != nil || string(msg) != "MSH|rest" {
		t.Fatalf("got %q, %v", msg, err)
	}
}

var errTest = errors.New("test error")

type errOnceReader struct{ chunks []string }

func (r *errOnceReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	c := r.chunks[0]
	r.chunks = r.chunks[1:]
	if c == "" {
		return 0, errTest
	}
	return copy(p, c), nil
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.WriteMessage([]byte("MSH|x\r")); err != nil {
		t.Fatal(err)
	}
	if b.String() != frame("MSH|x\r") {
		t.Errorf("wrote %q", b.String())
	}
	for _, bad := range []string{"a\x0bb", "a\x1c\rb"} {
		if err := w.WriteMessage([]byte(bad)); !errors.Is(err, ErrFrameByte) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(frame("MSH|^~\\&|A")+"\x00"+frame("B")), 3)
	f.Add([]byte("\x0b0123456789012345678901234567890123456789\x1c\r\x0bx\x1c"), 10)
	f.Add([]byte("\x1c\r\x0b\x0b\x1c\x1c\r"), 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		const limit = 32
		want, wantErr := reference(data, limit)
		got, err := readAll(t, bytes.NewReader(data), limit)
		if !slices.Equal(got, want) || err != wantErr {
			t.Fatalf("whole: got %q, %v; want %q, %v", got, err, want, wantErr)
		}
		if len(data) > 0 {
			h := ((split % len(data)) + len(data)) % len(data)
			got, err = readAll(t, &chunkReader{[][]byte{bytes.Clone(data[:h]), bytes.Clone(data[h:])}}, limit)
			if !slices.Equal(got, want) || err != wantErr {
				t.Fatalf("split at %d: got %q, %v; want %q, %v", h, got, err, want, wantErr)
			}
		}
		got, err = readAll(t, iotest.OneByteReader(bytes.NewReader(data)), limit)
		if !slices.Equal(got, want) || err != wantErr {
			t.Fatalf("one byte: got %q, %v; want %q, %v", got, err, want, wantErr)
		}
	})
}

// After a large frame the Reader gives its big buffer back, keeping the
// bytes of the next frame already read.
func TestReaderShrinksAfterLargeFrame(t *testing.T) {
	big := bytes.Repeat([]byte("OBX|1|ED|PDF||^AP^PDF^Base64^"), 200000) // ~6 MB
	r := NewReader(strings.NewReader(frame(string(big)) + frame("MSH|small")))
	if m, err := r.ReadMessage(); err != nil || !bytes.Equal(m, big) {
		t.Fatalf("big frame: %v (%d bytes)", err, len(m))
	}
	if len(r.buf) > keepBuffer {
		t.Errorf("buffer still %d bytes after the large frame", len(r.buf))
	}
	if m, err := r.ReadMessage(); err != nil || string(m) != "MSH|small" {
		t.Fatalf("next frame: %q %v", m, err)
	}
}
