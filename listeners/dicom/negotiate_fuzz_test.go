package dicom

import (
	"bytes"
	"context"
	"testing"

	"github.com/medgate/medgate/listeners"
)

// FuzzNegotiate feeds whatever A-ASSOCIATE-RQ the PDU reader accepts to
// the acceptor's checks and negotiation, and encodes the answer: no
// panic, every proposed context answered once, accepted ones with a
// transfer syntax the requestor proposed.
func FuzzNegotiate(f *testing.F) {
	for _, p := range samplePDUs() {
		if rq, ok := p.(*AssociateRQ); ok {
			b, _ := AppendPDU(nil, rq)
			f.Add(b)
		}
	}
	s := &Server{Handler: listeners.HandlerFunc(func(context.Context, *listeners.Envelope) error { return nil }),
		Worklist: FindHandlerFunc(func(context.Context, *FindRequest, func([]byte) error) error { return nil })}
	s.init()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := NewPDUReader(bytes.NewReader(data), 1<<20).ReadPDU()
		if err != nil {
			return
		}
		rq, ok := p.(*AssociateRQ)
		if !ok {
			return
		}
		counted := false
		if rj := s.checkAssociation(context.Background(), rq, &Association{CallingAE: rq.CallingAE}, &counted); rj != nil {
			if _, err := AppendPDU(nil, rj); err != nil {
				t.Fatalf("encoding the rejection: %v", err)
			}
		}
		if counted {
			s.mu.Lock()
			s.active--
			s.mu.Unlock()
		}
		ac, accepted := s.negotiate(rq)
		if len(ac.PresentationContexts) != len(rq.PresentationContexts) {
			t.Fatalf("%d contexts proposed, %d answered", len(rq.PresentationContexts), len(ac.PresentationContexts))
		}
		for id, pc := range accepted {
			var proposed bool
			for _, q := range rq.PresentationContexts {
				if q.ID == id && q.AbstractSyntax == pc.abstract {
					for _, ts := range q.TransferSyntaxes {
						proposed = proposed || ts == pc.transfer
					}
				}
			}
			if !proposed {
				t.Fatalf("context %d accepted with %q, which was not proposed", id, pc.transfer)
			}
		}
		if _, err := AppendPDU(nil, ac); err != nil {
			t.Fatalf("encoding the acceptance: %v", err)
		}
	})
}
