package dicom

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Tests from a conformance review against PS3.8 and PS3.7.

// rawItem encodes an item or sub-item: type, reserved, 2-byte length, value.
func rawItem(typ byte, v []byte) []byte {
	b := []byte{typ, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// rawAssoc builds an A-ASSOCIATE-RQ/AC PDU from its items.
func rawAssoc(typ byte, items ...[]byte) []byte {
	body := []byte{0, 1, 0, 0}
	body = append(body, "MEDGATE         RAW             "...)
	body = append(body, make([]byte, 32)...)
	for _, it := range items {
		body = append(body, it...)
	}
	b := []byte{typ, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// PS3.8 9.3.2 (Table 9-11) and 9.3.3: the called and calling AE titles are
// 16-byte fields. A title with multi-byte UTF-8 characters (a Cyrillic AE
// title configured on a device, echoed back in the A-ASSOCIATE-AC) must
// still take exactly 16 bytes, or every item after it is misplaced.
func TestReviewAETitleFieldIs16Bytes(t *testing.T) {
	for _, p := range []PDU{
		&AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "КТ-1", ApplicationContext: ApplicationContext,
			PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}},
			UserInfo:             UserInfo{MaxPDULength: 16384, ImplementationClassUID: ImplementationClassUID}},
		&AssociateAC{ProtocolVersion: 1, CalledAE: "РЕНТГЕН", CallingAE: "КТ-1", ApplicationContext: ApplicationContext,
			PresentationContexts: []ContextResult{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}},
			UserInfo:             UserInfo{MaxPDULength: 16384, ImplementationClassUID: ImplementationClassUID}},
	} {
		b, err := AppendPDU(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		called, calling := "MEDGATE", "КТ-1"
		if ac, ok := p.(*AssociateAC); ok {
			called = ac.CalledAE
		}
		want := called + strings.Repeat(" ", 16-len(called)) + calling + strings.Repeat(" ", 16-len(calling))
		if got := string(b[6+4 : 6+36]); got != want {
			t.Errorf("%T: AE title fields %q, want %q", p, got, want)
		}
		got, err := NewPDUReader(bytes.NewReader(b), 0).ReadPDU()
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("%T round trip: %#v, %v", p, got, err)
		}
	}
}

// capturePData runs dimse.send over a pipe for a peer announcing peerMax
// and returns the P-DATA-TF PDUs written, with each PDU's length field.
func capturePData(t *testing.T, peerMax uint32, cmd *Command, ds []byte) (pdus []*PDataTF, lengths []uint32) {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	m := newMachine(a, true, machineConfig{artim: time.Second, writeTimeout: 10 * time.Second})
	m.state = sta6
	d := newDIMSE(m, peerMax)
	errc := make(chan error, 1)
	go func() {
		var r io.Reader
		if ds != nil {
			r = bytes.NewReader(ds)
		}
		errc <- d.send(context.Background(), 1, cmd, r)
		a.Close()
	}()
	b.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var hdr [6]byte
		if _, err := io.ReadFull(b, hdr[:]); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[2:])
		body := make([]byte, n)
		if _, err := io.ReadFull(b, body); err != nil {
			t.Fatal(err)
		}
		p, err := NewPDUReader(io.MultiReader(bytes.NewReader(hdr[:]), bytes.NewReader(body)), 1<<30).ReadPDU()
		if err != nil {
			t.Fatal(err)
		}
		pdus = append(pdus, p.(*PDataTF))
		lengths = append(lengths, n)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return pdus, lengths
}

// PS3.8 D.1 (maximum length: never send a P-DATA-TF longer than the peer
// announced) and E.1 ("each fragment of a message shall consist of an even
// number of bytes"), for odd and very small maximum lengths.
func TestReviewPDataFragmentsFitPeerMax(t *testing.T) {
	ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.3", explicit: true, rows: 30, cols: 30})
	cmd := &Command{Field: CStoreRQ, AffectedSOPClassUID: ctImageStorage, AffectedSOPInstanceUID: "1.2.3", MessageID: 1, HasDataSet: true}
	enc := cmd.Encode()
	for _, peerMax := range []uint32{0, 8, 9, 20, 63, 1001, 16383, 16384} {
		pdus, lengths := capturePData(t, peerMax, cmd, ds)
		limit := peerMax
		if limit == 0 {
			limit = DefaultMaxPDULength
		}
		var gotCmd, gotDS []byte
		for i, p := range pdus {
			if lengths[i] > limit {
				t.Errorf("max %d: PDU %d has length %d", peerMax, i, lengths[i])
			}
			for _, v := range p.Items {
				if len(v.Data)%2 != 0 {
					t.Errorf("max %d: PDU %d carries an odd fragment of %d bytes", peerMax, i, len(v.Data))
				}
				if v.Command {
					gotCmd = append(gotCmd, v.Data...)
				} else {
					gotDS = append(gotDS, v.Data...)
				}
			}
		}
		if !bytes.Equal(gotCmd, enc) || !bytes.Equal(gotDS, ds) {
			t.Errorf("max %d: message not reassembled (%d/%d command bytes, %d/%d data bytes)", peerMax, len(gotCmd), len(enc), len(gotDS), len(ds))
		}
	}
}

// A peer whose maximum length cannot carry one even fragment (PDV header
// plus 2 bytes: 8) cannot be sent any P-DATA-TF within its limit: the
// association is rejected rather than answered with PDUs it refuses.
func TestReviewUnusableMaxPDURejected(t *testing.T) {
	ts := startServer(t, &Server{})
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "RAW", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}},
		UserInfo:             UserInfo{MaxPDULength: 4}}
	if p := rawExchange(t, ts.addr, rq); p.Type() != TypeAssociateRJ {
		t.Errorf("peer maximum length 4: got %#v, want A-ASSOCIATE-RJ", p)
	}

	// Our Client, offered such a maximum in an A-ASSOCIATE-AC, aborts.
	script := scriptAcceptor(t, func(conn net.Conn, r *PDUReader, w *PDUWriter) error {
		if _, err := r.ReadPDU(); err != nil {
			return err
		}
		w.WritePDU(&AssociateAC{ProtocolVersion: 1, ApplicationContext: ApplicationContext,
			PresentationContexts: []ContextResult{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}}, UserInfo: UserInfo{MaxPDULength: 6}})
		if p, err := r.ReadPDU(); err != nil || p.Type() != TypeAbort {
			return errors.New("want A-ABORT")
		}
		return nil
	})
	if c, err := dialClientErr(script.addr, ClientConfig{Contexts: allStorageContexts[:1]}); err == nil {
		c.Abort()
		t.Error("Associate accepted a peer maximum length of 6")
	}
	if err := <-script.done; err != nil {
		t.Error(err)
	}
}

type scripted struct {
	addr string
	done chan error
}

// scriptAcceptor accepts one connection and runs fn on it.
func scriptAcceptor(t *testing.T, fn func(conn net.Conn, r *PDUReader, w *PDUWriter) error) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &scripted{addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			s.done <- err
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		s.done <- fn(conn, NewPDUReader(conn, 1<<20), NewPDUWriter(conn))
	}()
	return s
}

// PS3.8 Table 9-9, AA-7: in Sta13 an A-ASSOCIATE-RQ (or invalid PDU) is
// answered with an A-ABORT and the state stays Sta13; unlike AA-1 and AA-8,
// AA-7 does not restart ARTIM. A peer repeating A-ASSOCIATE-RQs must not
// keep the connection open past the ARTIM timeout.
func TestReviewAA7DoesNotRestartARTIM(t *testing.T) {
	const artim = time.Second
	ts := startServer(t, &Server{ARTIMTimeout: artim})
	conn, r, w := rawDial(t, ts.addr)
	defer conn.Close()
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "OTHER", CallingAE: "RAW", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}}}
	w.WritePDU(rq)
	if p, err := r.ReadPDU(); err != nil || p.Type() != TypeAssociateRJ {
		t.Fatalf("want A-ASSOCIATE-RJ, got %#v %v", p, err)
	}
	start := time.Now() // Sta13, ARTIM running
	time.Sleep(artim * 7 / 10)
	w.WritePDU(rq)
	expectAbort(t, r, SourceServiceProvider, AbortUnexpectedPDU)
	expectClose(t, conn)
	if d := time.Since(start); d > artim*14/10 {
		t.Errorf("closed %v after the rejection; ARTIM (%v) was restarted by AA-7", d, artim)
	}
}

// PS3.8 9.3: "Items of unrecognized types shall be ignored and skipped",
// sub-items of a presentation context included.
func TestReviewUnknownSubItemsSkipped(t *testing.T) {
	pc := append([]byte{1, 0, 0, 0}, rawItem(itemAbstractSyntax, []byte(VerificationSOPClass))...)
	pc = append(pc, rawItem(0x3F, []byte("future"))...)
	pc = append(pc, rawItem(itemTransferSyntax, []byte(ImplicitVRLittleEndian))...)
	ui := rawItem(itemUserInfo, rawItem(subMaxLength, []byte{0, 0, 0x40, 0}))
	p, err := NewPDUReader(bytes.NewReader(rawAssoc(TypeAssociateRQ, rawItem(itemApplicationContext, []byte(ApplicationContext)), rawItem(itemPresentationRQ, pc), ui)), 0).ReadPDU()
	want := []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}}
	if rq, ok := p.(*AssociateRQ); err != nil || !ok || !reflect.DeepEqual(rq.PresentationContexts, want) {
		t.Errorf("A-ASSOCIATE-RQ with an unknown sub-item: %#v %v", p, err)
	}

	res := append([]byte{1, 0, 0, 0}, rawItem(0x4F, []byte("future"))...)
	res = append(res, rawItem(itemTransferSyntax, []byte(ImplicitVRLittleEndian))...)
	p, err = NewPDUReader(bytes.NewReader(rawAssoc(TypeAssociateAC, rawItem(itemApplicationContext, []byte(ApplicationContext)), rawItem(itemPresentationAC, res), ui)), 0).ReadPDU()
	if ac, ok := p.(*AssociateAC); err != nil || !ok || !reflect.DeepEqual(ac.PresentationContexts, []ContextResult{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}}) {
		t.Errorf("A-ASSOCIATE-AC with an unknown sub-item: %#v %v", p, err)
	}
}

// PS3.7 D.3.3.4: one SCP/SCU role selection answer per SOP class. A
// requestor repeating the role item for a class (the user information item
// full of them) must still get an encodable A-ASSOCIATE-AC, not a dropped
// connection.
func TestReviewRepeatedRoleItems(t *testing.T) {
	s := &Server{Handler: newRecorder(t)}
	s.init()
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "X", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ExplicitVRLittleEndian}}},
		UserInfo:             UserInfo{MaxPDULength: 16384}}
	for range (0xFFFF - 8) / (4 + 2 + len(ctImageStorage) + 2) {
		rq.UserInfo.Roles = append(rq.UserInfo.Roles, RoleSelection{SOPClassUID: ctImageStorage, SCU: true})
	}
	b, err := AppendPDU(nil, rq)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPDUReader(bytes.NewReader(b), 0).ReadPDU()
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := s.negotiate(p.(*AssociateRQ))
	if _, err := AppendPDU(nil, ac); err != nil {
		t.Errorf("encoding the A-ASSOCIATE-AC: %v", err)
	}
	if want := []RoleSelection{{ctImageStorage, true, false}}; !reflect.DeepEqual(ac.UserInfo.Roles, want) {
		t.Errorf("roles answered: %d, want %v", len(ac.UserInfo.Roles), want)
	}
}

// PS3.8 7.2.2: either AE may release; "an accepting DICOM Application
// Entity shall always issue an A-RELEASE response primitive" (Sta8, Evt14,
// AR-4). Our Client, asked to release by the acceptor, answers with an
// A-RELEASE-RP: when idle, on Release; when waiting for a response, at once.
func TestReviewClientAnswersPeerRelease(t *testing.T) {
	accept := func(r *PDUReader, w *PDUWriter) error {
		if _, err := r.ReadPDU(); err != nil {
			return err
		}
		return w.WritePDU(&AssociateAC{ProtocolVersion: 1, ApplicationContext: ApplicationContext,
			PresentationContexts: []ContextResult{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}}, UserInfo: UserInfo{MaxPDULength: 16384}})
	}
	expectRP := func(r *PDUReader) error {
		for {
			p, err := r.ReadPDU()
			if err != nil {
				return err
			}
			switch p.Type() {
			case TypePDataTF:
				continue // the C-ECHO-RQ
			case TypeReleaseRP:
				return nil
			default:
				return fmt.Errorf("want A-RELEASE-RP, got %#v", p)
			}
		}
	}

	t.Run("idle", func(t *testing.T) {
		script := scriptAcceptor(t, func(conn net.Conn, r *PDUReader, w *PDUWriter) error {
			if err := accept(r, w); err != nil {
				return err
			}
			w.WritePDU(&ReleaseRQ{})
			return expectRP(r)
		})
		c := dialClient(t, script.addr, ClientConfig{Contexts: allStorageContexts[:1]})
		waitFor(t, "the peer's A-RELEASE-RQ", func() bool { return c.m.currentState() == sta8 })
		if err := c.Release(testCtx(t)); err != nil {
			t.Errorf("Release after the peer's A-RELEASE-RQ: %v", err)
		}
		if err := <-script.done; err != nil {
			t.Error(err)
		}
	})

	t.Run("operation", func(t *testing.T) {
		script := scriptAcceptor(t, func(conn net.Conn, r *PDUReader, w *PDUWriter) error {
			if err := accept(r, w); err != nil {
				return err
			}
			if p, err := r.ReadPDU(); err != nil || p.Type() != TypePDataTF {
				return errors.New("want the C-ECHO-RQ")
			}
			w.WritePDU(&ReleaseRQ{})
			return expectRP(r)
		})
		c := dialClient(t, script.addr, ClientConfig{Contexts: allStorageContexts[:1]})
		if err := c.Echo(testCtx(t)); err == nil {
			t.Error("Echo answered by an A-RELEASE-RQ succeeded")
		}
		if err := <-script.done; err != nil {
			t.Error(err)
		}
		if !errors.Is(c.Err(), ErrReleased) {
			t.Errorf("after the peer's release: %v", c.Err())
		}
	})
}
