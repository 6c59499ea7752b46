package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medgate/medgate/listeners/mllp"
	"github.com/medgate/medgate/parsers/hl7"
	_ "modernc.org/sqlite"
)

// TestKillBetweenStoreAndAttach kills medgate with SIGKILL while analyzers
// send results, so that some messages are stored but not yet attached at
// the instant of death. After a restart those are processed (Recover), every
// acknowledged message is there and attached, and nothing is attached twice
// — also when the analyzers resend what they never heard an ACK for.
func TestKillBetweenStoreAndAttach(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "medgate.yaml")
	doc := "devices:\n  - name: bc-5380\n    protocol: hl7\n    sending_application: BC-5380\n    code_map: cbc\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MEDGATE_ADMIN_PASSWORD=correct-horse-42"}
	p := start(t, dir, env, "-config", cfg)
	token, base := p.admin(t)
	barcode, _ := labOrder(t, base, token)
	oru := func(control string) []byte {
		m := hl7.BuildORU(hl7.ORU{
			Header:  hl7.Header{SendingApplication: hl7.HD{NamespaceID: "BC-5380"}, ControlID: control, Time: time.Now()},
			Patient: hl7.Patient{Names: []hl7.XPN{{Family: "Иванов", Given: "Пётр"}}},
			Reports: []hl7.Report{{FillerOrderNumber: hl7.EI{ID: barcode}, Service: hl7.CWE{Code: "CBC"},
				Results: []hl7.Result{{Type: "NM", ID: hl7.CWE{Code: "HGB"}, Value: "141", Units: hl7.CWE{Code: "g/L"}}}}},
		})
		raw, err := m.EncodeCharset("utf-8")
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}

	var mu sync.Mutex
	acked := map[string]bool{}   // AA heard
	unheard := map[string]bool{} // sent, no ACK heard before the kill
	// flood sends from several connections until the process dies.
	flood := func(p *proc, round int) {
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := net.Dial("tcp", p.mllp)
				if err != nil {
					return
				}
				defer conn.Close()
				w, r := mllp.NewWriter(conn), mllp.NewReader(conn)
				for n := 0; n < 2000; n++ {
					id := fmt.Sprintf("K%d-%d-%d", round, c, n)
					mu.Lock()
					unheard[id] = true
					mu.Unlock()
					conn.SetDeadline(time.Now().Add(10 * time.Second))
					if w.WriteMessage(oru(id)) != nil {
						return
					}
					frame, err := r.ReadMessage()
					if err != nil {
						return
					}
					ack, err := hl7.Parse(frame, hl7.Options{})
					if err != nil {
						t.Errorf("ACK does not parse: %v", err)
						return
					}
					msa := ack.Segment("MSA")
					if msa.Field(2).String() != id {
						t.Errorf("ACK for %s answers %s", id, msa.Field(2).String())
					}
					if msa.Field(1).String() == "AA" {
						mu.Lock()
						acked[id], unheard[id] = true, false
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(1500 * time.Millisecond)
		_ = p.cmd.Process.Kill()
		<-p.done
		wg.Wait()
	}

	dbPath := filepath.Join(dir, "medgate-data", "medgate.db")
	count := func(query string) int {
		t.Helper()
		db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}

	window := 0 // messages found stored but not attached after a kill
	for round := 0; round < 4 && window == 0; round++ {
		if round > 0 {
			p = start(t, dir, env, "-config", cfg)
		}
		flood(p, round)
		window += count(`SELECT count(*) FROM messages WHERE status = 'received'`)
	}
	if window == 0 {
		t.Fatal("four kills never caught a message between storing and attaching; the test proves nothing")
	}
	t.Logf("killed with %d message(s) stored but not attached; %d acknowledged", window, len(acked))

	// Restart: Recover processes what was left, before the listener opens.
	p = start(t, dir, env, "-config", cfg)
	// The analyzers resend what they never heard acknowledged.
	conn, err := net.Dial("tcp", p.mllp)
	if err != nil {
		t.Fatal(err)
	}
	w, r := mllp.NewWriter(conn), mllp.NewReader(conn)
	resent := 0
	for id, open := range unheard {
		if !open {
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := w.WriteMessage(oru(id)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadMessage(); err != nil {
			t.Fatalf("resend %s: %v", id, err)
		}
		acked[id] = true
		resent++
	}
	conn.Close()
	p.stop(t)

	if n := count(`SELECT count(*) FROM messages WHERE status = 'received'`); n != 0 {
		t.Errorf("%d messages still unprocessed after restart", n)
	}
	originals := count(`SELECT count(*) FROM messages WHERE is_original`)
	if originals != len(acked) {
		t.Errorf("%d original messages stored, %d acknowledged (%d resent)", originals, len(acked), resent)
	}
	if n := count(`SELECT count(*) FROM messages WHERE is_original AND status <> 'processed'`); n != 0 {
		t.Errorf("%d original messages not attached", n)
	}
	if n := count(`SELECT count(*) FROM (SELECT message_id FROM reports GROUP BY message_id HAVING count(*) > 1)`); n != 0 {
		t.Errorf("%d messages attached twice", n)
	}
	if reports, obs := count(`SELECT count(*) FROM reports`), count(`SELECT count(*) FROM observations`); reports != originals || obs != originals {
		t.Errorf("%d reports and %d observations for %d messages; want one each", reports, obs, originals)
	}
}
