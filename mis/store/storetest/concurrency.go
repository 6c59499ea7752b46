package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
)

func testConcurrency(t *testing.T, open opener) {
	t.Run("PatientLimit", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		const workers, each, limit = 8, 10, 50
		var (
			mu               sync.Mutex
			created, limited int
			other            []error
			wg               sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					p := NewPatient(org.ID, "Потоков", givenNames[(w*each+i)%len(givenNames)])
					p.Identifiers = []domain.Identifier{{System: SystemMedCard, Value: fmt.Sprintf("МК-%d-%d", w, i)}}
					err := e.s.CreatePatient(e.ctx, p, limit, NewAudit(org.ID, domain.ActionCreate, "patient.create"))
					mu.Lock()
					switch {
					case err == nil:
						created++
					case errors.Is(err, store.ErrLimit):
						limited++
					default:
						other = append(other, err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range other {
			t.Errorf("concurrent CreatePatient: %v", err)
		}
		if created != limit || limited != workers*each-limit {
			t.Errorf("%d created and %d refused by the limit, want %d and %d", created, limited, limit, workers*each-limit)
		}
		if n := len(e.searchAll(store.PatientQuery{Orgs: ids(org.ID)})); n != limit {
			t.Errorf("%d patients stored, want %d", n, limit)
		}
		if n := len(e.auditEvents(ids(org.ID), "patient.create")); n != created {
			t.Errorf("%d audit events for %d created patients", n, created)
		}
	})
	t.Run("LabOrders", func(t *testing.T) {
		e := begin(t, open)
		org := e.org("Клиника")
		p := e.patient(org.ID, "Иванов", "Иван")
		const workers, each = 4, 10
		var (
			mu    sync.Mutex
			made  []*domain.ServiceRequest
			fails []error
			wg    sync.WaitGroup
		)
		for range workers {
			wg.Go(func() {
				for range each {
					r := NewLabOrder(org.ID, p.ID)
					err := e.s.CreateServiceRequest(e.ctx, r, nil)
					mu.Lock()
					if err != nil {
						fails = append(fails, err)
					} else {
						made = append(made, r)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range fails {
			t.Errorf("concurrent CreateServiceRequest: %v", err)
		}
		acc, bc := map[string]bool{}, map[string]bool{}
		for _, r := range made {
			acc[r.AccessionNumber] = true
			if len(r.Specimens) == 1 {
				bc[r.Specimens[0].Barcode] = true
			}
		}
		if len(made) != workers*each || len(acc) != workers*each || len(bc) != workers*each {
			t.Errorf("%d orders created, %d distinct accession numbers, %d distinct barcodes; want %d of each",
				len(made), len(acc), len(bc), workers*each)
		}
		if n := len(e.ordersAll(store.OrderQuery{Orgs: ids(org.ID)})); n != workers*each {
			t.Errorf("%d orders stored, want %d", n, workers*each)
		}
	})
}
