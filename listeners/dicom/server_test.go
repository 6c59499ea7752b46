package dicom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners"
)

func TestClientServer(t *testing.T) {
	rec := newRecorder(t)
	stub := &findStub{n: 3}
	ts := startServer(t, &Server{Handler: rec, Worklist: stub, MaxPDULength: 8192})
	c := dialClient(t, ts.addr, ClientConfig{MaxPDULength: 4096})
	ctx := testCtx(t)
	if p := c.Peer(); p.ImplementationClassUID != ImplementationClassUID || p.ImplementationVersion != ImplementationVersionName || p.MaxPDULength != 8192 {
		t.Errorf("peer = %+v", p)
	}
	if n := len(c.AcceptedContexts()); n != len(allStorageContexts) {
		t.Errorf("%d contexts accepted: %+v", n, c.AcceptedContexts())
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		class, ts string
		ds        []byte
	}{
		{ctImageStorage, ExplicitVRLittleEndian, makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.3.1", explicit: true, rows: 300, cols: 300})},
		{ctImageStorage, ImplicitVRLittleEndian, makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.3.2", rows: 8, cols: 8})},
		{ctImageStorage, DeflatedExplicitVRLittleEndian, []byte("\x78\x9c not really deflate, stored bit for bit\x00")},
		{scImageStorage, JPEGLosslessSV1, makeDataSet(dsOpts{sopClass: scImageStorage, sopInstance: "1.2.3.4", explicit: true, rows: 1, cols: 1, encapsulated: []byte("frag")})},
		{ctImageStorage, ExplicitVRLittleEndian, nil}, // empty data set
	}
	for i, tc := range cases {
		inst := fmt.Sprintf("1.2.3.%d", i+1)
		status, comment, err := c.Store(ctx, tc.class, inst, tc.ts, bytes.NewReader(tc.ds))
		if err != nil || status != StatusSuccess {
			t.Fatalf("store %d: 0x%04X %q %v", i, status, comment, err)
		}
	}
	envs, files := rec.got()
	for i, tc := range cases {
		meta, ds := datasetOf(t, files[i])
		if meta.TransferSyntax != tc.ts || meta.SOPClassUID != tc.class || envs[i].Key != fmt.Sprintf("1.2.3.%d", i+1) || !bytes.Equal(ds, tc.ds) {
			t.Errorf("instance %d: meta %+v, %d bytes", i, meta, len(ds))
		}
		if envs[i].Listener != "dicom "+ts.addr || envs[i].Peer == "" || envs[i].Received.IsZero() {
			t.Errorf("instance %d: envelope %+v", i, envs[i])
		}
	}

	// C-FIND: three pending responses, then success.
	ts1, _ := c.TransferSyntax(ModalityWorklistFind)
	var got [][]byte
	status, err := c.Find(ctx, ModalityWorklistFind, explicitElem(0x0010, 0x0010, "PN", pad("Test*", ' ')), func(id []byte) error {
		got = append(got, id)
		return nil
	})
	if err != nil || status != StatusSuccess || len(got) != 3 || !bytes.Contains(got[1], []byte("Test^PatientB")) {
		t.Fatalf("find: 0x%04X %v, %d identifiers", status, err, len(got))
	}
	if ts1 != ExplicitVRLittleEndian || stub.reqs[0].TransferSyntax != ts1 {
		t.Errorf("find transfer syntax %q / %q", ts1, stub.reqs[0].TransferSyntax)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrReleased) {
		t.Errorf("after release: %v", c.Err())
	}
}

func TestFindCancelByClient(t *testing.T) {
	stub := &findStub{n: 3, block: make(chan struct{})}
	defer close(stub.block)
	ts := startServer(t, &Server{Worklist: stub})
	c := dialClient(t, ts.addr, ClientConfig{})
	ctx, cancel := context.WithCancel(testCtx(t))
	n := 0
	status, err := c.Find(ctx, ModalityWorklistFind, explicitElem(0x0010, 0x0010, "PN", nil), func([]byte) error {
		n++
		cancel() // the handler now blocks: cancel mid-find
		return nil
	})
	if status != StatusCancel || !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("cancelled find: 0x%04X %v after %d", status, err, n)
	}
	// The association is still usable; the fn error path cancels too.
	if err := c.Echo(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("enough")
	status, err = c.Find(testCtx(t), ModalityWorklistFind, explicitElem(0x0010, 0x0010, "PN", nil), func([]byte) error { return stop })
	if status != StatusCancel || !errors.Is(err, stop) {
		t.Fatalf("fn error: 0x%04X %v", status, err)
	}
}

func TestFindHandlerStatus(t *testing.T) {
	ts := startServer(t, &Server{Worklist: FindHandlerFunc(func(ctx context.Context, req *FindRequest, emit func([]byte) error) error {
		if len(req.Identifier) == 0 {
			return errors.New("internal detail with Patient^Name")
		}
		return &StatusError{Status: StatusDataSetMismatch, Comment: "identifier does not match SOP class"}
	})})
	c := dialClient(t, ts.addr, ClientConfig{})
	status, err := c.Find(testCtx(t), ModalityWorklistFind, []byte{8, 0, 0x50, 0, 'S', 'H', 0, 0}, nil)
	if err != nil || status != StatusDataSetMismatch {
		t.Errorf("StatusError: 0x%04X %v", status, err)
	}
	status, err = c.Find(testCtx(t), ModalityWorklistFind, nil, nil)
	if err != nil || status != StatusCannotUnderstand {
		t.Errorf("other error: 0x%04X %v", status, err)
	}
	if _, err := c.Find(testCtx(t), StudyRootFind, nil, nil); !errors.Is(err, ErrNoContext) {
		t.Errorf("study root not offered: %v", err)
	}
}

func TestStoreStatuses(t *testing.T) {
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec, MaxInstanceSize: 10000})
	c := dialClient(t, ts.addr, ClientConfig{})
	ctx := testCtx(t)
	small := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.9", explicit: true, rows: 4, cols: 4})
	for _, tc := range []struct {
		err     error
		status  uint16
		comment string
	}{
		{&listeners.InvalidError{Stage: "parse", Reason: "SOP Instance UID differs from the command", Mismatch: true}, StatusDataSetMismatch, "SOP Instance UID differs from the command"},
		{&listeners.InvalidError{Stage: "parse", Reason: "tag (0028,0010) at byte 12: truncated"}, StatusCannotUnderstand, "tag (0028,0010) at byte 12: truncated"},
		{fmt.Errorf("db: %w", listeners.ErrUnavailable), StatusOutOfResources, "out of resources: temporarily unable to store; retry later"},
		{errors.New("secret Patient^Name"), StatusOutOfResources, "out of resources: internal error; retry later"},
		{nil, StatusSuccess, ""},
	} {
		rec.mu.Lock()
		rec.err = tc.err
		rec.mu.Unlock()
		status, comment, err := c.Store(ctx, ctImageStorage, "1.2.9", ExplicitVRLittleEndian, bytes.NewReader(small))
		if err != nil || status != tc.status || comment != tc.comment {
			t.Errorf("handler %v: 0x%04X %q %v; want 0x%04X %q", tc.err, status, comment, err, tc.status, tc.comment)
		}
	}
	// Oversize instance: 0xA700, the handler is not called, the
	// association stays usable.
	before, _ := rec.got()
	big := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.10", explicit: true, rows: 200, cols: 200})
	status, comment, err := c.Store(ctx, ctImageStorage, "1.2.10", ExplicitVRLittleEndian, bytes.NewReader(big))
	if err != nil || status != StatusOutOfResources || !strings.Contains(comment, "larger than 10000") {
		t.Errorf("oversize: 0x%04X %q %v", status, comment, err)
	}
	if after, _ := rec.got(); len(after) != len(before) {
		t.Error("oversize instance reached the handler")
	}
	if err := c.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	// Missing Affected SOP Instance UID, and a SOP class other than the
	// context's: PS3.7 refusals, data set read and dropped.
	status, _, err = c.Store(ctx, ctImageStorage, "", ExplicitVRLittleEndian, bytes.NewReader(small))
	if err != nil || status != StatusDataSetMismatch {
		t.Errorf("no instance UID: 0x%04X %v", status, err)
	}
	pc, _ := c.context(ctImageStorage, ExplicitVRLittleEndian)
	c.mu.Lock()
	id := c.nextID()
	err = c.d.send(ctx, pc, &Command{Field: CStoreRQ, AffectedSOPClassUID: scImageStorage, AffectedSOPInstanceUID: "1.2.11", MessageID: id, HasDataSet: true}, bytes.NewReader(small))
	var rsp *Command
	if err == nil {
		var ds *dataSetReader
		rsp, ds, err = c.response(ctx, id, nil)
		if err == nil {
			err = ds.Discard()
		}
	}
	c.mu.Unlock()
	if err != nil || rsp.Status != StatusSOPClassNotSupported {
		t.Errorf("class mismatch: %+v %v", rsp, err)
	}
	if status, _, err := c.Store(ctx, ctImageStorage, "1.2.12", ExplicitVRLittleEndian, bytes.NewReader(small)); err != nil || status != StatusSuccess {
		t.Errorf("store after refusals: 0x%04X %v", status, err)
	}
	if left, _ := os.ReadDir(ts.srv.TempDir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestNegotiation(t *testing.T) {
	s := &Server{Handler: newRecorder(t), Worklist: &findStub{}}
	s.init()
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "X", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{
			{ID: 1, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian, JPEGLosslessSV1, JPEGBaseline8Bit}},
			{ID: 3, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{JPEGBaseline8Bit, HTJ2K}},
			{ID: 5, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{"1.2.3.4.5"}},
			{ID: 7, AbstractSyntax: "1.2.840.10008.5.1.4.1.2.1.1", TransferSyntaxes: []string{ImplicitVRLittleEndian}},
			{ID: 9, AbstractSyntax: ModalityWorklistFind, TransferSyntaxes: []string{ImplicitVRLittleEndian, ExplicitVRLittleEndian}},
			{ID: 11, AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
			{ID: 12, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
		},
		UserInfo: UserInfo{MaxPDULength: 0, AsyncOps: &AsyncOps{Invoked: 5, Performed: 5},
			Roles: []RoleSelection{{SOPClassUID: ctImageStorage, SCU: true, SCP: true}, {SOPClassUID: "1.2.840.10008.5.1.4.1.2.1.1", SCU: true}}}}
	ac, pcs := s.negotiate(rq)
	want := []ContextResult{
		{1, ResultAcceptance, JPEGLosslessSV1},
		{3, ResultAcceptance, JPEGBaseline8Bit},
		{5, ResultTransferSyntaxesNotSupported, "1.2.3.4.5"},
		{7, ResultAbstractSyntaxNotSupported, ImplicitVRLittleEndian},
		{9, ResultAcceptance, ExplicitVRLittleEndian},
		{11, ResultAbstractSyntaxNotSupported, ImplicitVRLittleEndian},
		{12, ResultNoReason, ImplicitVRLittleEndian},
	}
	if fmt.Sprint(ac.PresentationContexts) != fmt.Sprint(want) {
		t.Errorf("results %v\nwant %v", ac.PresentationContexts, want)
	}
	if len(pcs) != 3 || ac.UserInfo.AsyncOps == nil || *ac.UserInfo.AsyncOps != (AsyncOps{1, 1}) || ac.UserInfo.MaxPDULength != DefaultMaxPDULength {
		t.Errorf("user info %+v, %d accepted", ac.UserInfo, len(pcs))
	}
	if fmt.Sprint(ac.UserInfo.Roles) != fmt.Sprint([]RoleSelection{{ctImageStorage, true, false}}) {
		t.Errorf("roles %+v", ac.UserInfo.Roles)
	}
	// Without a Handler, storage is not offered.
	s2 := &Server{}
	s2.init()
	ac, _ = s2.negotiate(rq)
	if ac.PresentationContexts[0].Result != ResultAbstractSyntaxNotSupported {
		t.Errorf("no handler: %+v", ac.PresentationContexts[0])
	}
}

func TestRejections(t *testing.T) {
	ts := startServer(t, &Server{MaxAssociations: 1, Acceptor: func(ctx context.Context, a *Association) error {
		switch a.CallingAE {
		case "UNKNOWN":
			return listeners.ErrUnknownDevice
		case "FLAKY":
			return errors.New("registry down")
		}
		return nil
	}})
	check := func(name string, err error, want RejectError) {
		t.Helper()
		var rj *RejectError
		if !errors.As(err, &rj) || *rj != want {
			t.Errorf("%s: %v, want %+v", name, err, want)
		}
	}
	_, err := dialClientErr(ts.addr, ClientConfig{CalledAE: "OTHER"})
	check("called AE", err, RejectError{RejectPermanent, RejectSourceUser, RejectCalledAENotRecognized})
	_, err = dialClientErr(ts.addr, ClientConfig{CallingAE: "UNKNOWN"})
	check("unknown device", err, RejectError{RejectPermanent, RejectSourceUser, RejectCallingAENotRecognized})
	_, err = dialClientErr(ts.addr, ClientConfig{CallingAE: "FLAKY"})
	check("acceptor error", err, RejectError{RejectTransient, RejectSourceUser, RejectNoReason})

	c := dialClient(t, ts.addr, ClientConfig{})
	_, err = dialClientErr(ts.addr, ClientConfig{})
	check("limit", err, RejectError{RejectTransient, RejectSourceUser, RejectNoReason})
	if err := c.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The slot is free again once the first association is gone.
	waitFor(t, "association slot", func() bool {
		c2, err := dialClientErr(ts.addr, ClientConfig{})
		if err == nil {
			c2.Release(testCtx(t))
		}
		return err == nil
	})

	// Application context and protocol version, with raw PDUs.
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "RAW", ApplicationContext: "1.2.3",
		PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}}}
	if p := rawExchange(t, ts.addr, rq); fmt.Sprint(p) != fmt.Sprint(&AssociateRJ{1, 1, 2}) {
		t.Errorf("application context: %#v", p)
	}
	rq.ApplicationContext, rq.ProtocolVersion = ApplicationContext, 2
	if p := rawExchange(t, ts.addr, rq); fmt.Sprint(p) != fmt.Sprint(&AssociateRJ{1, 2, 2}) {
		t.Errorf("protocol version: %#v", p)
	}
}

// rawExchange connects, writes p and returns the first PDU read back.
func rawExchange(t *testing.T, addr string, p PDU) PDU {
	t.Helper()
	conn, r, w := rawDial(t, addr)
	defer conn.Close()
	if err := w.WritePDU(p); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadPDU()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func rawDial(t *testing.T, addr string) (net.Conn, *PDUReader, *PDUWriter) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn, NewPDUReader(conn, 1<<20), NewPDUWriter(conn)
}

func rawAssociate(t *testing.T, addr string) (net.Conn, *PDUReader, *PDUWriter) {
	t.Helper()
	conn, r, w := rawDial(t, addr)
	rq := &AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "RAW", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{
			{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}},
			{ID: 3, AbstractSyntax: ctImageStorage, TransferSyntaxes: []string{ExplicitVRLittleEndian}},
		},
		UserInfo: UserInfo{MaxPDULength: 16384}}
	if err := w.WritePDU(rq); err != nil {
		t.Fatal(err)
	}
	p, err := r.ReadPDU()
	if _, ok := p.(*AssociateAC); !ok || err != nil {
		t.Fatalf("raw associate: %#v %v", p, err)
	}
	return conn, r, w
}

func expectAbort(t *testing.T, r *PDUReader, source, reason byte) {
	t.Helper()
	p, err := r.ReadPDU()
	if ab, ok := p.(*Abort); !ok || ab.Source != source || ab.Reason != reason {
		t.Fatalf("got %#v %v, want A-ABORT source %d reason %d", p, err, source, reason)
	}
}

func expectClose(t *testing.T, conn net.Conn) {
	t.Helper()
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("waiting for close: %v", err)
	}
}

func TestARTIMAndGarbage(t *testing.T) {
	ts := startServer(t, &Server{ARTIMTimeout: 200 * time.Millisecond})
	// Connect and send nothing: closed after ARTIM.
	conn, _, _ := rawDial(t, ts.addr)
	start := time.Now()
	expectClose(t, conn)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before ARTIM", d)
	}
	conn.Close()

	// An unknown PDU type: A-ABORT (service provider, unrecognized PDU),
	// then the server closes after ARTIM.
	conn, r, _ := rawDial(t, ts.addr)
	conn.Write([]byte{0x09, 0, 0, 0, 0, 2, 'h', 'i'})
	expectAbort(t, r, SourceServiceProvider, AbortUnrecognizedPDU)
	expectClose(t, conn)
	conn.Close()

	// A P-DATA-TF before association: unexpected PDU.
	conn, r, w := rawDial(t, ts.addr)
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 1, Command: true, Last: true, Data: []byte{0, 0}}}})
	expectAbort(t, r, SourceServiceProvider, AbortUnexpectedPDU)
	conn.Close()

	// A-RELEASE-RP in Sta6: unexpected, aborted.
	conn, r, w = rawAssociate(t, ts.addr)
	w.WritePDU(&ReleaseRP{})
	expectAbort(t, r, SourceServiceProvider, AbortUnexpectedPDU)
	conn.Close()
}

func TestOversizePDU(t *testing.T) {
	ts := startServer(t, &Server{MaxPDULength: 16384, ARTIMTimeout: time.Second})
	c := dialClient(t, ts.addr, ClientConfig{})
	// A P-DATA-TF longer than the 16384 the server announced.
	c.m.wmu.Lock()
	c.m.conn.Write([]byte{0x04, 0, 0, 0, 0x40, 0x01, 0, 0, 0x40, 0, 1, 3})
	c.m.wmu.Unlock()
	err := c.Echo(testCtx(t))
	var ab *AbortError
	if !errors.As(err, &ab) || ab.Local || ab.Source != SourceServiceProvider || ab.Reason != AbortInvalidParameter {
		t.Fatalf("Echo after oversize PDU: %v", err)
	}
}

func TestFragmentedMessages(t *testing.T) {
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec})
	conn, r, w := rawAssociate(t, ts.addr)
	defer conn.Close()
	// C-ECHO-RQ in three fragments over two PDUs.
	cmd := (&Command{Field: CEchoRQ, AffectedSOPClassUID: VerificationSOPClass, MessageID: 5}).Encode()
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 1, Command: true, Data: cmd[:10]}, {ContextID: 1, Command: true, Data: cmd[10:20]}}})
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 1, Command: true, Last: true, Data: cmd[20:]}}})
	rsp := readResponse(t, r)
	if rsp.Field != CEchoRSP || rsp.MessageIDBeingRespondedTo != 5 || rsp.Status != StatusSuccess {
		t.Fatalf("echo response %+v", rsp)
	}
	// C-STORE-RQ: command and first data set fragments in one PDU, the
	// rest spread over more PDUs with several PDVs each.
	ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.77", explicit: true, rows: 20, cols: 20})
	cmd = (&Command{Field: CStoreRQ, AffectedSOPClassUID: ctImageStorage, AffectedSOPInstanceUID: "1.2.77", MessageID: 6, HasDataSet: true}).Encode()
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 3, Command: true, Last: true, Data: cmd}, {ContextID: 3, Data: ds[:100]}, {ContextID: 3, Data: ds[100:101]}}})
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 3, Data: ds[101:500]}, {ContextID: 3, Data: nil}}})
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 3, Last: true, Data: ds[500:]}}})
	rsp = readResponse(t, r)
	if rsp.Field != CStoreRSP || rsp.Status != StatusSuccess || rsp.AffectedSOPInstanceUID != "1.2.77" {
		t.Fatalf("store response %+v", rsp)
	}
	_, files := rec.got()
	if _, got := datasetOf(t, files[0]); !bytes.Equal(got, ds) {
		t.Error("reassembled data set differs")
	}
	// A data set fragment on another context in the middle: abort.
	w.WritePDU(&PDataTF{Items: []PDV{{ContextID: 3, Command: true, Last: true, Data: cmd}, {ContextID: 1, Data: ds[:10]}}})
	expectAbort(t, r, SourceServiceUser, 0)
}

func readResponse(t *testing.T, r *PDUReader) *Command {
	t.Helper()
	var b []byte
	for {
		p, err := r.ReadPDU()
		if err != nil {
			t.Fatal(err)
		}
		pd, ok := p.(*PDataTF)
		if !ok {
			t.Fatalf("got %#v, want P-DATA-TF", p)
		}
		for _, v := range pd.Items {
			b = append(b, v.Data...)
			if v.Last {
				c, err := DecodeCommand(b)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
		}
	}
}

// TestReleaseCollisionRequestor: our Client releases while the scripted
// acceptor releases too (Sta7 → Sta9 → Sta11 → Sta1).
func TestReleaseCollisionRequestor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	script := make(chan error, 1)
	go func() {
		script <- func() error {
			conn, err := ln.Accept()
			if err != nil {
				return err
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			r, w := NewPDUReader(conn, 0), NewPDUWriter(conn)
			p, _ := r.ReadPDU()
			rq := p.(*AssociateRQ)
			w.WritePDU(&AssociateAC{ProtocolVersion: 1, ApplicationContext: ApplicationContext, CalledAE: rq.CalledAE, CallingAE: rq.CallingAE,
				PresentationContexts: []ContextResult{{ID: 1, TransferSyntax: ImplicitVRLittleEndian}}, UserInfo: UserInfo{MaxPDULength: 16384}})
			if p, _ := r.ReadPDU(); p == nil || p.Type() != TypeReleaseRQ {
				return fmt.Errorf("want A-RELEASE-RQ, got %#v", p)
			}
			w.WritePDU(&ReleaseRQ{}) // collision
			if p, _ := r.ReadPDU(); p == nil || p.Type() != TypeReleaseRP {
				return fmt.Errorf("want A-RELEASE-RP (requestor answers first), got %#v", p)
			}
			w.WritePDU(&ReleaseRP{})
			if _, err := r.ReadPDU(); err != io.EOF {
				return fmt.Errorf("want close, got %v", err)
			}
			return nil
		}()
	}()
	c := dialClient(t, ln.Addr().String(), ClientConfig{Contexts: allStorageContexts[:1]})
	if err := c.Release(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-script; err != nil {
		t.Fatal(err)
	}
}

// TestReleaseCollisionAcceptor: our acceptor-side machine releases while
// the scripted requestor releases too (Sta7 → Sta10 → Sta12 → Sta13).
func TestReleaseCollisionAcceptor(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	result := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			result <- err
			return
		}
		m := newMachine(conn, false, machineConfig{artim: 5 * time.Second, writeTimeout: 5 * time.Second})
		m.startAcceptor()
		ind := <-m.ind
		rq := ind.pdu.(*AssociateRQ)
		s := &Server{}
		s.init()
		ac, _ := s.negotiate(rq)
		m.local(evt7, ac)
		err = release(testCtx(t), m, 5*time.Second, m.log)
		<-m.closed
		result <- err
	}()
	conn, r, w := rawDial(t, ln.Addr().String())
	defer conn.Close()
	w.WritePDU(&AssociateRQ{ProtocolVersion: 1, CalledAE: "MEDGATE", CallingAE: "RAW", ApplicationContext: ApplicationContext,
		PresentationContexts: []PresentationContext{{ID: 1, AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{ImplicitVRLittleEndian}}}})
	if p, _ := r.ReadPDU(); p == nil || p.Type() != TypeAssociateAC {
		t.Fatalf("want AC, got %#v", p)
	}
	if p, _ := r.ReadPDU(); p == nil || p.Type() != TypeReleaseRQ {
		t.Fatalf("want the acceptor's A-RELEASE-RQ, got %#v", p)
	}
	w.WritePDU(&ReleaseRQ{}) // collision: we are the requestor
	w.WritePDU(&ReleaseRP{}) // requestor answers first (Sta9 → Sta11)
	if p, _ := r.ReadPDU(); p == nil || p.Type() != TypeReleaseRP {
		t.Fatalf("want the acceptor's A-RELEASE-RP, got %#v", p)
	}
	conn.Close() // AR-3 on our side; the acceptor sees the close (AR-5)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

func TestAbortBothWays(t *testing.T) {
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec, IdleTimeout: 300 * time.Millisecond})
	// Client abort: the server closes; a new association works.
	c := dialClient(t, ts.addr, ClientConfig{})
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrAborted) {
		t.Errorf("after Abort: %v", c.Err())
	}
	if err := c.Echo(testCtx(t)); !errors.Is(err, ErrAborted) {
		t.Errorf("Echo after Abort: %v", err)
	}
	// Server abort on idle timeout: the client sees a peer A-ABORT.
	c = dialClient(t, ts.addr, ClientConfig{})
	waitFor(t, "idle abort", func() bool { return c.Err() != nil })
	var ab *AbortError
	if !errors.As(c.Err(), &ab) || ab.Local || ab.Source != SourceServiceUser {
		t.Errorf("idle: %v", c.Err())
	}
}

func TestConcurrentAssociations(t *testing.T) {
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialClientErr(ts.addr, ClientConfig{})
			if err != nil {
				errs <- err
				return
			}
			for j := range 5 {
				inst := fmt.Sprintf("1.2.5.%d.%d", i, j)
				ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: inst, explicit: true, rows: 64, cols: 64})
				if st, _, err := c.Store(context.Background(), ctImageStorage, inst, ExplicitVRLittleEndian, bytes.NewReader(ds)); err != nil || st != 0 {
					errs <- fmt.Errorf("store %s: 0x%04X %v", inst, st, err)
				}
			}
			errs <- c.Release(context.Background())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if envs, _ := rec.got(); len(envs) != 40 {
		t.Errorf("%d instances stored, want 40", len(envs))
	}
}

// gatedReader returns first, then blocks until gate closes, then rest.
type gatedReader struct {
	first, rest []byte
	gate        chan struct{}
	opened      bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if len(g.first) > 0 {
		n := copy(p, g.first)
		g.first = g.first[n:]
		return n, nil
	}
	if !g.opened {
		<-g.gate
		g.opened = true
	}
	if len(g.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

func TestShutdownDuringStore(t *testing.T) {
	rec := newRecorder(t)
	srv := &Server{Handler: rec}
	ts := startServer(t, srv)
	c := dialClient(t, ts.addr, ClientConfig{})
	idle := dialClient(t, ts.addr, ClientConfig{})
	ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.88", explicit: true, rows: 512, cols: 512})
	g := &gatedReader{first: ds[:200000], rest: ds[200000:], gate: make(chan struct{})}
	type res struct {
		status uint16
		err    error
	}
	stored := make(chan res, 1)
	go func() {
		st, _, err := c.Store(context.Background(), ctImageStorage, "1.2.88", ExplicitVRLittleEndian, g)
		stored <- res{st, err}
	}()
	waitFor(t, "the store to begin", func() bool {
		f, _ := os.ReadDir(srv.TempDir)
		return len(f) > 0
	})
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// The idle association is aborted at once; the store goes on.
	waitFor(t, "idle association aborted", func() bool { return idle.Err() != nil })
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a store runs", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(g.gate)
	if r := <-stored; r.err != nil || r.status != StatusSuccess {
		t.Fatalf("store during shutdown: 0x%04X %v", r.status, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-ts.served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	ts.served <- ErrServerClosed // for the cleanup
	if envs, _ := rec.got(); len(envs) != 1 {
		t.Errorf("%d instances handled", len(envs))
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// stallReader gives its bytes, then blocks until release is closed: a
// modality that stops in the middle of a data set.
type stallReader struct {
	b       []byte
	release chan struct{}
}

func (r *stallReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		<-r.release
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// A peer that stops sending in the middle of a C-STORE data set is aborted
// after IdleTimeout instead of holding its association for ever, and
// nothing reaches the handler.
func TestStallInsideDataSetAborts(t *testing.T) {
	rec := newRecorder(t)
	ts := startServer(t, &Server{Handler: rec, IdleTimeout: 300 * time.Millisecond})
	c := dialClient(t, ts.addr, ClientConfig{})
	ds := makeDataSet(dsOpts{sopClass: ctImageStorage, sopInstance: "1.2.9.1", explicit: true, rows: 512, cols: 512}) // several PDUs before the stall
	r := &stallReader{b: ds[:len(ds)/2], release: make(chan struct{})}
	defer close(r.release)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Store(context.Background(), ctImageStorage, "1.2.9.1", ExplicitVRLittleEndian, r)
		done <- err
	}()
	waitFor(t, "abort of the stalled association", func() bool { return c.Err() != nil })
	t.Logf("client: %v", c.Err())
	var ab *AbortError
	if !errors.As(c.Err(), &ab) || ab.Local {
		t.Errorf("want a peer A-ABORT, got %v", c.Err())
	}
	if envs, _ := rec.got(); len(envs) != 0 {
		t.Errorf("%d envelopes handed on from a stalled association", len(envs))
	}
}
