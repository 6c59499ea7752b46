package storetest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func testSaveMessage(t *testing.T, open opener) {
	t.Run("Original", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		raw := hl7Bytes("MSG00001", "5.5")
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00001", raw)
		orig, err := e.s.SaveMessage(e.ctx, m)
		if err != nil {
			t.Fatalf("SaveMessage: %v", err)
		}
		if orig != nil {
			t.Errorf("SaveMessage of a first copy returned orig %s, want nil", js(orig))
		}
		if m.ID == 0 || m.Status != domain.MessageReceived || m.Size != len(raw) || m.DuplicateOf != 0 {
			t.Errorf("after SaveMessage: ID %d, Status %q, Size %d, DuplicateOf %d; want an ID, %q, %d, 0",
				m.ID, m.Status, m.Size, m.DuplicateOf, domain.MessageReceived, len(raw))
		}
		for _, orgs := range [][]int64{nil, ids(org.ID)} {
			got := e.getMsg(orgs, m.ID)
			want := *m
			want.Status, want.Size, want.Attempts = domain.MessageReceived, len(raw), 0
			sameJSON(t, "GetMessage", normMessage(want), normMessage(*got))
			sameBytes(t, "GetMessage raw bytes", raw, got.Raw)
			sameInstant(t, "Received", T0, got.Received)
			if got.Updated.IsZero() {
				t.Error("GetMessage: Updated not set")
			}
			checkUTC(t, "Updated", got.Updated)
		}
	})
	t.Run("ResendSameKeySameBytes", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		raw := hl7Bytes("MSG00001", "5.5")
		first := e.saveNew(org.ID, dev.ID, "MSG00001", "5.5")
		for i := range 2 {
			m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00001", raw)
			m.Peer, m.Received = "10.0.5.21:50999", T0.Add(time.Duration(i+1)*time.Minute)
			orig := e.save(m)
			if m.Status != domain.MessageDuplicate || m.DuplicateOf != first.ID || m.ID == first.ID {
				t.Errorf("resend %d: ID %d, Status %q, DuplicateOf %d; want a new row, %q, %d",
					i+1, m.ID, m.Status, m.DuplicateOf, domain.MessageDuplicate, first.ID)
			}
			if orig == nil || orig.ID != first.ID || orig.Status != domain.MessageReceived {
				t.Errorf("resend %d: orig %s, want message %d (received)", i+1, js(orig), first.ID)
			}
			got := e.getMsg(ids(org.ID), m.ID)
			if got.Status != domain.MessageDuplicate || got.DuplicateOf != first.ID || got.Peer != m.Peer || got.Size != len(raw) {
				t.Errorf("stored resend %d: %s; want status duplicate of %d, its own peer, size %d", i+1, js(normMessage(*got)), first.ID, len(raw))
			}
			sameInstant(t, "resend Received", m.Received, got.Received)
			sameBytes(t, "raw bytes of a duplicate (its original's)", raw, got.Raw)
		}
		e.wantStatus(first.ID, domain.MessageReceived)
		dups := e.messagesAll(store.MessageQuery{Orgs: ids(org.ID), Status: domain.MessageDuplicate})
		if len(dups) != 2 {
			t.Errorf("ListMessages(duplicate): %d rows, want 2", len(dups))
		}
		if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID)}); len(items) != 0 {
			t.Errorf("resends queued %d reconciliation items, want none", len(items))
		}
	})
	t.Run("SameBytesWithoutKey", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Mindray BS-240", domain.ProtocolASTM)
		raw := []byte("\x021H|\\^&|||BS-240|||||||P|E1394-97|20250314\r\x0329\r\n")
		first := NewInboundMessage(org.ID, dev.ID, domain.ProtocolASTM, "", raw)
		if orig := e.save(first); orig != nil || first.Status != domain.MessageReceived {
			t.Fatalf("first copy: status %q, orig %s", first.Status, js(orig))
		}
		again := NewInboundMessage(org.ID, dev.ID, domain.ProtocolASTM, "", raw)
		orig := e.save(again)
		if again.Status != domain.MessageDuplicate || again.DuplicateOf != first.ID || orig == nil || orig.ID != first.ID {
			t.Errorf("same bytes without key: status %q, DuplicateOf %d, orig %s; want duplicate of %d",
				again.Status, again.DuplicateOf, js(orig), first.ID)
		}
		sameBytes(t, "raw bytes of the duplicate", raw, e.getMsg(nil, again.ID).Raw)
		// Other bytes without a key are a message of their own.
		other := NewInboundMessage(org.ID, dev.ID, domain.ProtocolASTM, "", append(raw, 'x'))
		if orig := e.save(other); orig != nil || other.Status != domain.MessageReceived {
			t.Errorf("other bytes without key: status %q, orig %s; want a new original", other.Status, js(orig))
		}
	})
	t.Run("SameBytesOtherKey", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		raw := hl7Bytes("MSG00001", "5.5")
		first := e.saveNew(org.ID, dev.ID, "MSG00001", "5.5")
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00002", raw)
		orig := e.save(m)
		if m.Status != domain.MessageDuplicate || m.DuplicateOf != first.ID || orig == nil || orig.ID != first.ID {
			t.Errorf("same bytes under another key: status %q, DuplicateOf %d, orig %s; want duplicate of %d",
				m.Status, m.DuplicateOf, js(orig), first.ID)
		}
	})
	t.Run("SameKeyOtherBytes", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Sysmex XN", domain.ProtocolHL7)
		first := e.saveNew(org.ID, dev.ID, "MSG00001", "5.5")
		raw := hl7Bytes("MSG00001", "7.9")
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolHL7, "MSG00001", raw)
		orig := e.save(m)
		if orig == nil || orig.ID != first.ID {
			t.Errorf("conflicting resend: orig %s, want message %d", js(orig), first.ID)
		}
		if m.Status != domain.MessageQueued || !strings.Contains(m.Reason, "MSG00001") || m.ID == first.ID {
			t.Errorf("conflicting resend: ID %d, status %q, reason %q; want a new row, %q, a reason naming the key",
				m.ID, m.Status, m.Reason, domain.MessageQueued)
		}
		got := e.wantStatus(m.ID, domain.MessageQueued)
		if !strings.Contains(got.Reason, "MSG00001") {
			t.Errorf("stored reason %q does not name the key", got.Reason)
		}
		sameBytes(t, "raw bytes of the conflicting resend (its own)", raw, got.Raw)
		items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID), MessageID: m.ID})
		if len(items) != 1 {
			t.Fatalf("reconciliation items of the conflicting resend: %d, want 1: %s", len(items), js(items))
		}
		it := items[0]
		if it.Reason != domain.ReasonDuplicateConflict || it.Status != domain.ReconOpen || it.MessageID != m.ID ||
			it.OrganizationID != org.ID || it.DeviceID != dev.ID || it.Kind == "" || it.Created.IsZero() {
			t.Errorf("conflict item %s; want open, reason %q, message %d, organization %d, device %d, a kind, Created",
				js(it), domain.ReasonDuplicateConflict, m.ID, org.ID, dev.ID)
		}
		checkUTC(t, "item Created", it.Created)
		sameJSON(t, "GetRecon of the conflict item", normRecon(it), normRecon(*e.getRecon(ids(org.ID), it.ID)))
		first2 := e.wantStatus(first.ID, domain.MessageReceived)
		sameBytes(t, "raw bytes of the first copy", hl7Bytes("MSG00001", "5.5"), first2.Raw)
		if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID), MessageID: first.ID}); len(items) != 0 {
			t.Errorf("the first copy has %d reconciliation items, want none", len(items))
		}
	})
	t.Run("OtherDevice", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		d1 := e.device(org.ID, "Sysmex XN #1", domain.ProtocolHL7)
		d2 := e.device(org.ID, "Sysmex XN #2", domain.ProtocolHL7)
		e.saveNew(org.ID, d1.ID, "MSG00001", "5.5")
		e.saveNew(org.ID, d2.ID, "MSG00001", "5.5") // same key and bytes from another device: its own
	})
	// An unregistered sender's messages are deduplicated by their bytes only:
	// its keys (control IDs) are nobody's until the device is registered.
	t.Run("UnknownDeviceByBytes", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		raw := hl7Bytes("MSH00001", "5.5")
		var got []int64
		for i, r := range [][]byte{raw, raw, hl7Bytes("MSH00001", "6.6")} {
			m := NewInboundMessage(org.ID, 0, domain.ProtocolHL7, "MSH00001", r)
			orig := e.save(m)
			switch {
			case i == 1 && (orig == nil || orig.ID != got[0] || m.Status != domain.MessageDuplicate || m.DuplicateOf != got[0]):
				t.Errorf("resend of an unknown device's bytes: status %q, DuplicateOf %d, orig %s; want a duplicate of %d",
					m.Status, m.DuplicateOf, js(orig), got[0])
			case i != 1 && (orig != nil || m.Status != domain.MessageReceived || m.DuplicateOf != 0):
				t.Errorf("message %d of an unknown device: status %q, DuplicateOf %d, orig %s; want a new original",
					i+1, m.Status, m.DuplicateOf, js(orig))
			}
			stored := e.getMsg(nil, m.ID)
			if stored.DeviceID != 0 {
				t.Errorf("stored message of an unknown device: device %d", stored.DeviceID)
			}
			got = append(got, m.ID)
		}
		noDuplicates(t, "message IDs", got)
		if items := e.reconAll(store.ReconQuery{Orgs: ids(org.ID)}); len(items) != 0 {
			t.Errorf("SaveMessage queued %d items for an unknown device's messages, want none", len(items))
		}
	})
	// Once registered, the device is given to its stored messages: once,
	// and never a second copy of bytes it already sent.
	t.Run("AssignMessageDevice", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		other := e.org("Другая клиника")
		raw := hl7Bytes("MSG00002", "5.5")
		m := NewInboundMessage(org.ID, 0, domain.ProtocolHL7, "MSG00002", raw)
		e.save(m)
		dev := e.device(other.ID, "Sysmex XN", domain.ProtocolHL7)
		if err := e.s.AssignMessageDevice(e.ctx, m.ID, dev); err != nil {
			t.Fatalf("AssignMessageDevice: %v", err)
		}
		if got := e.getMsg(nil, m.ID); got.DeviceID != dev.ID || got.OrganizationID != other.ID || got.Status != domain.MessageReceived {
			t.Errorf("assigned: device %d org %d status %q, want %d %d received", got.DeviceID, got.OrganizationID, got.Status, dev.ID, other.ID)
		}
		var conflict *store.ConflictError
		if err := e.s.AssignMessageDevice(e.ctx, m.ID, dev); !errors.As(err, &conflict) {
			t.Errorf("second assignment: %v, want a conflict", err)
		}
		// The same bytes stored again before the device was known: giving
		// them the device would make two originals of one message.
		again := NewInboundMessage(org.ID, 0, domain.ProtocolHL7, "MSG00002", raw)
		e.save(again)
		if err := e.s.AssignMessageDevice(e.ctx, again.ID, dev); !errors.As(err, &conflict) {
			t.Errorf("assigning bytes the device already sent: %v, want a conflict", err)
		}
	})
	t.Run("BinaryRaw", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Planmeca", domain.ProtocolDICOM)
		raw := []byte{0, 0, 'D', 'I', 'C', 'M', 0xff, 0xfe, 0xc3, 0x28, 0x80, 0, '\r', '\n', 0x0b, 0x1c, 0x0d, 0xed, 0xa0, 0x80}
		for b := range 256 {
			raw = append(raw, byte(b))
		}
		raw = append(raw, 0, 0, 0)
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, "1.2.3.4.5", raw)
		e.save(m)
		if m.Size != len(raw) {
			t.Errorf("Size %d, want %d", m.Size, len(raw))
		}
		got := e.getMsg(nil, m.ID)
		sameBytes(t, "binary raw bytes", raw, got.Raw)
		if got.Size != len(raw) || got.SHA256 != m.SHA256 {
			t.Errorf("stored Size %d, SHA256 %q; want %d, %q", got.Size, got.SHA256, len(raw), m.SHA256)
		}
	})
	t.Run("LargeRaw", func(t *testing.T) {
		e := beginIngest(t, open)
		org := e.org("Клиника")
		dev := e.device(org.ID, "Planmeca", domain.ProtocolDICOM)
		raw := make([]byte, 5<<20)
		rng := rand.New(rand.NewChaCha8([32]byte{'m', 'e', 'd', 'g', 'a', 't', 'e'}))
		for i := range raw {
			if i%7 != 0 { // every seventh byte NUL, like sparse pixel data
				raw[i] = byte(rng.Uint32())
			}
		}
		m := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, "1.2.3.4.6", raw)
		e.save(m)
		got := e.getMsg(ids(org.ID), m.ID)
		sameBytes(t, "5 MiB raw bytes", raw, got.Raw)
		if got.Size != len(raw) {
			t.Errorf("stored Size %d, want %d", got.Size, len(raw))
		}
		// A resend of the large message points at it and reads its bytes.
		again := NewInboundMessage(org.ID, dev.ID, domain.ProtocolDICOM, "1.2.3.4.6", raw)
		if e.save(again); again.Status != domain.MessageDuplicate {
			t.Errorf("resend of the large message: status %q, want duplicate", again.Status)
		}
		sameBytes(t, "raw bytes of the large resend", raw, e.getMsg(nil, again.ID).Raw)
	})
}

func testGetMessage(t *testing.T, open opener) {
	e := beginIngest(t, open)
	a, b := e.org("Альфа"), e.org("Бета")
	dev := e.device(a.ID, "Sysmex XN", domain.ProtocolHL7)
	m := e.saveNew(a.ID, dev.ID, "MSG00001", "5.5")
	for _, orgs := range [][]int64{nil, ids(a.ID), ids(b.ID, a.ID)} {
		if got := e.getMsg(orgs, m.ID); got.ID != m.ID {
			t.Errorf("GetMessage(%v): ID %d, want %d", orgs, got.ID, m.ID)
		}
	}
	_, err := e.s.GetMessage(e.ctx, ids(b.ID), m.ID)
	wantNotFound(t, "GetMessage from another organization", err)
	_, err = e.s.GetMessage(e.ctx, nil, 987654321)
	wantNotFound(t, "GetMessage(unknown id)", err)
	_, err = e.s.GetMessage(e.ctx, ids(a.ID), 987654321)
	wantNotFound(t, "GetMessage(unknown id) in an organization", err)
}

func testListMessages(t *testing.T, open opener) {
	e := beginIngest(t, open)
	a, b := e.org("Альфа"), e.org("Бета")
	hl7 := e.device(a.ID, "Sysmex XN", domain.ProtocolHL7)
	astm := e.device(a.ID, "Mindray BS-240", domain.ProtocolASTM)
	other := e.device(b.ID, "Sysmex XN", domain.ProtocolHL7)

	a1 := e.saveNew(a.ID, hl7.ID, "MSG00001", "5.5")
	a2 := NewInboundMessage(a.ID, astm.ID, domain.ProtocolASTM, "", []byte("\x021H|\\^&|||BS-240\r\x03"))
	e.save(a2)
	a3 := NewInboundMessage(a.ID, hl7.ID, domain.ProtocolHL7, "MSG00001", hl7Bytes("MSG00001", "5.5"))
	e.save(a3) // duplicate of a1
	b1 := e.saveNew(b.ID, other.ID, "MSG00001", "5.5")
	a4 := e.saveNew(a.ID, hl7.ID, "MSG00002", "6.1")
	e.apply(a4.ID, &store.IngestResult{Status: domain.MessageProcessed})

	for _, c := range []struct {
		name string
		q    store.MessageQuery
		want []int64
	}{
		{"Organization", store.MessageQuery{Orgs: ids(a.ID)}, ids(a4.ID, a3.ID, a2.ID, a1.ID)},
		{"OtherOrganization", store.MessageQuery{Orgs: ids(b.ID)}, ids(b1.ID)},
		{"BothOrganizations", store.MessageQuery{Orgs: ids(a.ID, b.ID)}, ids(a4.ID, b1.ID, a3.ID, a2.ID, a1.ID)},
		{"Device", store.MessageQuery{Orgs: ids(a.ID), DeviceID: hl7.ID}, ids(a4.ID, a3.ID, a1.ID)},
		{"DeviceOfAnotherOrganization", store.MessageQuery{Orgs: ids(a.ID), DeviceID: other.ID}, nil},
		{"StatusReceived", store.MessageQuery{Orgs: ids(a.ID), Status: domain.MessageReceived}, ids(a2.ID, a1.ID)},
		{"StatusDuplicate", store.MessageQuery{Orgs: ids(a.ID), Status: domain.MessageDuplicate}, ids(a3.ID)},
		{"StatusProcessed", store.MessageQuery{Orgs: ids(a.ID), Status: domain.MessageProcessed}, ids(a4.ID)},
		{"Protocol", store.MessageQuery{Orgs: ids(a.ID), Protocol: domain.ProtocolASTM}, ids(a2.ID)},
		{"DeviceAndStatus", store.MessageQuery{Orgs: ids(a.ID), DeviceID: hl7.ID, Status: domain.MessageReceived}, ids(a1.ID)},
		{"NoOrganizations", store.MessageQuery{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := messageIDs(e.messagesAll(c.q))
			if len(got) == 0 {
				got = nil
			}
			sameIDs(t, "ListMessages "+js(c.q), c.want, got)
		})
	}
	t.Run("Contents", func(t *testing.T) {
		list := e.messagesAll(store.MessageQuery{Orgs: ids(a.ID)})
		for _, m := range list {
			sameJSON(t, "listed message", normMessage(*e.getMsg(nil, m.ID)), normMessage(m))
			checkUTC(t, "listed Received", m.Received)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		pages := walk(t, "ListMessages", func(cursor string) ([]domain.Message, string, error) {
			return e.s.ListMessages(e.ctx, store.MessageQuery{Orgs: ids(a.ID), Page: store.Page{Limit: 3, Cursor: cursor}})
		})
		if sizes := pageSizes(pages); !slices.Equal(sizes, []int{3, 1}) {
			t.Errorf("page sizes %v, want [3 1]", sizes)
		}
		sameIDs(t, "pages concatenated", ids(a4.ID, a3.ID, a2.ID, a1.ID), messageIDs(concat(pages)))
	})
}

func testReceivedMessages(t *testing.T, open opener) {
	e := beginIngest(t, open)
	a, b := e.org("Альфа"), e.org("Бета")
	dev := e.device(a.ID, "Sysmex XN", domain.ProtocolHL7)
	devB := e.device(b.ID, "Sysmex XN", domain.ProtocolHL7)
	r1 := e.saveNew(a.ID, dev.ID, "MSG00001", "5.5")
	e.save(NewInboundMessage(a.ID, dev.ID, domain.ProtocolHL7, "MSG00001", hl7Bytes("MSG00001", "5.5"))) // duplicate
	r3 := e.saveNew(a.ID, dev.ID, "MSG00003", "5.5")
	e.apply(r3.ID, &store.IngestResult{Status: domain.MessageProcessed})
	e.save(NewInboundMessage(a.ID, dev.ID, domain.ProtocolHL7, "MSG00001", hl7Bytes("MSG00001", "9.9"))) // conflict
	r5 := e.saveNew(a.ID, dev.ID, "MSG00005", "5.5")
	r6 := e.saveNew(b.ID, devB.ID, "MSG00006", "5.5")
	r7 := e.saveNew(a.ID, dev.ID, "MSG00007", "5.5")
	e.apply(r7.ID, &store.IngestResult{Status: domain.MessageError, Reason: "OBX-5: not a number"})

	got, err := e.s.ReceivedMessages(e.ctx, 100)
	if err != nil {
		t.Fatalf("ReceivedMessages: %v", err)
	}
	sameIDs(t, "ReceivedMessages, oldest first", ids(r1.ID, r5.ID, r6.ID), got)
	got, err = e.s.ReceivedMessages(e.ctx, 2)
	if err != nil {
		t.Fatalf("ReceivedMessages(2): %v", err)
	}
	sameIDs(t, "ReceivedMessages(limit 2)", ids(r1.ID, r5.ID), got)
}
