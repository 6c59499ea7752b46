package dicom

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The DIMSE message layer over an established association: commands and
// data sets reassembled from PDV fragments by their last-fragment bit, and
// messages fragmented into P-DATA-TF PDUs no longer than the peer accepts.
// With an asynchronous operations window of 1, one message is received at
// a time: a fragment for another presentation context, a data set fragment
// where a command is due (or the reverse) is a protocol error.

var (
	errStopped        = errors.New("dicom: wait stopped")
	errReleaseRequest = errors.New("dicom: peer requested release")
)

// dimseError is a DIMSE-level protocol violation by the peer; the
// association is aborted.
type dimseError struct{ msg string }

func (e *dimseError) Error() string { return "dicom: DIMSE protocol error: " + e.msg }
func (e *dimseError) Unwrap() error { return ErrProtocol }

type dimse struct {
	m *machine

	cur    []PDV // unread PDVs of the last P-DATA-TF
	cmdBuf []byte
	inCmd  bool
	cmdPC  byte
	dsOpen bool // a data set is due (or being read) on dsPC
	dsPC   byte

	sendMax int // PDU length (without header) we build: the peer's limit
	buf     []byte
	// stall, if set, is how long a message may go without a PDU once it
	// has begun: a peer that stops in the middle of a command or data set
	// would otherwise hold its association (and its slot) for ever.
	stall time.Duration
}

// errStalled is a peer stopping in the middle of a message.
func (d *dimse) errStalled() error {
	return &dimseError{fmt.Sprintf("no data for %v in the middle of a message", d.stall)}
}

func newDIMSE(m *machine, peerMax uint32) *dimse {
	n := uint64(peerMax)
	if n == 0 {
		n = DefaultMaxPDULength
	}
	n = min(n, maxSendPDU)
	n = max(n, minMaxPDULength)
	// Every fragment must have an even length (PS3.8 E.1): with an even
	// limit, full PDVs and those after an (even) command are even.
	n &^= 1
	return &dimse{m: m, sendMax: int(n)}
}

// waiter says what else ends a wait for a PDV: stop (errStopped) and
// timeout (errStopped), both optional.
type waiter struct {
	stop    <-chan struct{}
	timeout <-chan time.Time
}

// idle reports whether no message is partly received.
func (d *dimse) idle() bool { return !d.inCmd && !d.dsOpen && len(d.cur) == 0 }

func (d *dimse) nextPDV(w waiter) (PDV, error) {
	var stalled <-chan time.Time
	if w.timeout == nil && d.stall > 0 && len(d.cur) == 0 {
		t := time.NewTimer(d.stall)
		defer t.Stop()
		stalled = t.C
	}
	for len(d.cur) == 0 {
		select {
		case ind := <-d.m.ind:
			switch ind.kind {
			case indPData:
				d.cur = ind.pdu.(*PDataTF).Items
			case indReleaseRQ:
				if !d.idle() {
					return PDV{}, &dimseError{"A-RELEASE-RQ in the middle of a message"}
				}
				return PDV{}, errReleaseRequest
			default:
				// Collision indications are handled by release().
			}
		case <-d.m.ended:
			// Deliver what was queued before the end first.
			select {
			case ind := <-d.m.ind:
				if ind.kind == indPData {
					d.cur = ind.pdu.(*PDataTF).Items
					continue
				}
			default:
			}
			return PDV{}, d.m.err()
		case <-w.stop:
			return PDV{}, errStopped
		case <-w.timeout:
			return PDV{}, errStopped
		case <-stalled:
			return PDV{}, d.errStalled()
		}
	}
	v := d.cur[0]
	d.cur = d.cur[1:]
	return v, nil
}

// readCommand returns the next command and its presentation context. When
// the command has a data set, the caller reads it with dataSet before the
// next readCommand. A wait ended by w keeps the partial state.
func (d *dimse) readCommand(w waiter) (byte, *Command, error) {
	if d.dsOpen {
		return 0, nil, &dimseError{"command expected while a data set is unread"}
	}
	for {
		v, err := d.nextPDV(w)
		if err != nil {
			return 0, nil, err
		}
		if !v.Command {
			return 0, nil, &dimseError{fmt.Sprintf("data set fragment on context %d without a command", v.ContextID)}
		}
		if d.inCmd && v.ContextID != d.cmdPC {
			return 0, nil, &dimseError{fmt.Sprintf("command fragment on context %d inside a command on context %d", v.ContextID, d.cmdPC)}
		}
		if len(d.cmdBuf)+len(v.Data) > maxCommandSize {
			return 0, nil, &dimseError{"command set larger than 64 KiB"}
		}
		d.inCmd, d.cmdPC = true, v.ContextID
		d.cmdBuf = append(d.cmdBuf, v.Data...)
		if !v.Last {
			continue
		}
		d.inCmd = false
		b := d.cmdBuf
		d.cmdBuf = d.cmdBuf[:0]
		cmd, err := DecodeCommand(b)
		if err != nil {
			return 0, nil, err
		}
		if cmd.HasDataSet {
			d.dsOpen, d.dsPC = true, v.ContextID
		}
		return v.ContextID, cmd, nil
	}
}

// dataSet returns a reader of the data set due after the last command.
func (d *dimse) dataSet() *dataSetReader { return &dataSetReader{d: d} }

// dataSetReader streams a data set's fragments. It must be read to io.EOF
// (or Discard-ed) before the next command.
type dataSetReader struct {
	d       *dimse
	pending []byte
	last    bool
	err     error
	n       int64
}

// next returns the next fragment's bytes, io.EOF after the last one.
func (r *dataSetReader) next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if len(r.pending) > 0 {
		b := r.pending
		r.pending = nil
		return b, nil
	}
	if r.last || !r.d.dsOpen {
		return nil, io.EOF
	}
	v, err := r.d.nextPDV(waiter{})
	if err == nil && (v.Command || v.ContextID != r.d.dsPC) {
		err = &dimseError{fmt.Sprintf("fragment on context %d (command %t) inside a data set on context %d", v.ContextID, v.Command, r.d.dsPC)}
	}
	if err != nil {
		r.err = err
		return nil, err
	}
	if v.Last {
		r.last = true
		r.d.dsOpen = false
	}
	r.n += int64(len(v.Data))
	return v.Data, nil
}

func (r *dataSetReader) Read(p []byte) (int, error) {
	for {
		b, err := r.next()
		if err != nil {
			return 0, err
		}
		if len(b) == 0 {
			continue
		}
		n := copy(p, b)
		if n < len(b) {
			r.pending = b[n:]
		}
		return n, nil
	}
}

// WriteTo writes the remaining fragments to w without copying them.
func (r *dataSetReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := r.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// Discard reads and drops the rest of the data set.
func (r *dataSetReader) Discard() error {
	_, err := r.WriteTo(io.Discard)
	return err
}

// readAllLimited reads the data set into memory, failing past limit bytes
// (the rest is discarded so the association stays usable).
func (r *dataSetReader) readAllLimited(limit int) ([]byte, bool, error) {
	var out []byte
	for {
		b, err := r.next()
		if err == io.EOF {
			return out, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		if len(out)+len(b) > limit {
			return nil, false, r.Discard()
		}
		out = append(out, b...)
	}
}

// send writes a message: the command, then the data set read from ds to
// its end when ds is not nil (cmd.HasDataSet must agree). PDVs are packed
// into PDUs of at most the peer's maximum length. ctx is checked between
// PDUs; when it ends the message is incomplete and the caller must abort.
func (d *dimse) send(ctx context.Context, pc byte, cmd *Command, ds io.Reader) error {
	if d.buf == nil {
		d.buf = make([]byte, 6+d.sendMax)
	}
	b := d.buf[:6]
	flush := func() error {
		if len(b) == 6 {
			return nil
		}
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		b[0], b[1] = TypePDataTF, 0
		binary.BigEndian.PutUint32(b[2:], uint32(len(b)-6))
		err := d.m.sendPData(b)
		b = d.buf[:6]
		return err
	}
	room := func() int { return 6 + d.sendMax - len(b) - 6 } // data bytes the next PDV can take
	// Command fragments.
	enc := cmd.Encode()
	for len(enc) > 0 || len(b) == 6 {
		if room() < 1 {
			if err := flush(); err != nil {
				return err
			}
		}
		n := min(len(enc), room())
		last := n == len(enc)
		b = appendPDVHeader(b, n, pc, true, last)
		b = append(b, enc[:n]...)
		enc = enc[n:]
		if last {
			break
		}
	}
	if ds == nil {
		return flush()
	}
	br, ok := ds.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(ds, 64<<10)
	}
	for {
		if room() < 1 || (room() < 1024 && len(b) > 6) {
			if err := flush(); err != nil {
				return err
			}
		}
		n := room()
		hdr := len(b)
		b = b[:hdr+6+n]
		k, err := io.ReadFull(br, b[hdr+6:])
		last := false
		switch err {
		case nil:
			if _, perr := br.Peek(1); perr == io.EOF {
				last = true
			} else if perr != nil {
				return fmt.Errorf("dicom: reading the data set: %w", perr)
			}
		case io.EOF, io.ErrUnexpectedEOF:
			last = true
		default:
			return fmt.Errorf("dicom: reading the data set: %w", err)
		}
		b = b[:hdr]
		b = appendPDVHeader(b, k, pc, false, last)
		b = b[:len(b)+k]
		if last {
			return flush()
		}
	}
}

func appendPDVHeader(b []byte, n int, pc byte, command, last bool) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(n+2))
	mch := byte(0)
	if command {
		mch |= 1
	}
	if last {
		mch |= 2
	}
	return append(b, pc, mch)
}
