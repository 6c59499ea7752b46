package sqlite_test

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkReportWriteFloor measures how fast modernc's SQLite can write
// what one 20-result lab report needs and nothing else: no lookups, no
// mapping, no audit or event rows, no flush to disk (synchronous=NORMAL
// without medgate's log flush). It is the ceiling the ingest path cannot
// pass, whatever its code does, and it is what says whether a layout could
// reach a throughput target at all. Like the pipeline, each group of 16
// reports is two transactions: the raw messages, then the reports, their
// results and the messages' status.
//
// Layouts (the observation columns are those of migrations 0001/0003):
//   - observations: one row per result with medgate's four indexes;
//   - unindexed: the same rows without any index;
//   - no-rows: a report's values in the report row, nothing per result.
func BenchmarkReportWriteFloor(b *testing.B) {
	for _, layout := range []string{"observations", "unindexed", "no-rows"} {
		b.Run("layout="+layout, func(b *testing.B) { reportWriteFloor(b, layout) })
	}
}

const floorSchema = `
CREATE TABLE messages (id INTEGER PRIMARY KEY, device_id INTEGER, protocol TEXT NOT NULL, peer TEXT NOT NULL,
    msg_key TEXT NOT NULL, received INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    status TEXT NOT NULL, is_original INTEGER NOT NULL DEFAULT 1, updated INTEGER NOT NULL, raw BLOB NOT NULL);
CREATE UNIQUE INDEX messages_device_key ON messages (device_id, msg_key) WHERE is_original AND msg_key <> '';
CREATE UNIQUE INDEX messages_device_sha ON messages (device_id, sha256) WHERE is_original;
CREATE INDEX messages_status ON messages (status, id);
CREATE TABLE reports (id INTEGER PRIMARY KEY, org_id INTEGER, patient_id INTEGER, request_id INTEGER,
    message_id INTEGER, code TEXT, status TEXT, effective INTEGER, issued INTEGER, results BLOB);
CREATE INDEX reports_patient ON reports (patient_id, effective);
CREATE TABLE observations (id INTEGER PRIMARY KEY, org_id INTEGER, patient_id INTEGER, request_id INTEGER,
    specimen_id INTEGER, report_id INTEGER, device_id INTEGER, message_id INTEGER, code_system TEXT, code TEXT,
    code_display TEXT, status TEXT, value_type TEXT, value_num REAL, value_comparator TEXT, value_text TEXT,
    value_code_system TEXT, value_code TEXT, value_display TEXT, value_low REAL, value_high REAL, unit TEXT,
    ref_low REAL, ref_high REAL, ref_text TEXT, interpretation TEXT, effective INTEGER, issued INTEGER, note TEXT);
`

const floorIndexes = `
CREATE INDEX observations_patient ON observations (patient_id, effective, id);
CREATE INDEX observations_report ON observations (report_id);
CREATE INDEX search_observations_code ON observations (code, id);
CREATE INDEX search_observations_request ON observations (request_id);
`

func reportWriteFloor(b *testing.B, layout string) {
	p := url.Values{}
	for _, s := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "temp_store(MEMORY)", "cache_size(-65536)"} {
		p.Add("_pragma", s)
	}
	db, err := sql.Open("sqlite", "file:"+b.TempDir()+"/floor.db?"+p.Encode()+"&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	schema := floorSchema
	if layout == "observations" {
		schema += floorIndexes
	}
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	const group, results = 16, 20
	values := "(" + strings.TrimSuffix(strings.Repeat("?, ", 28), ", ") + ")"
	stmts := map[string]*sql.Stmt{}
	for name, q := range map[string]string{
		"message": `INSERT INTO messages (device_id, protocol, peer, msg_key, received, size, sha256, status, updated, raw)
			VALUES (?, 'hl7', '127.0.0.1:40000', ?, ?, ?, ?, 'received', ?, ?) RETURNING id`,
		"report": `INSERT INTO reports (org_id, patient_id, request_id, message_id, code, status, effective, issued, results)
			VALUES (1, ?, ?, ?, 'CBC', 'final', ?, ?, ?) RETURNING id`,
		"observations": `INSERT INTO observations (org_id, patient_id, request_id, specimen_id, report_id, device_id,
			message_id, code_system, code, code_display, status, value_type, value_num, value_comparator, value_text,
			value_code_system, value_code, value_display, value_low, value_high, unit, ref_low, ref_high, ref_text,
			interpretation, effective, issued, note) VALUES ` + strings.TrimSuffix(strings.Repeat(values+", ", results), ", "),
		"status": `UPDATE messages SET status = 'attached', updated = ? WHERE id = ?`,
	} {
		if stmts[name], err = db.Prepare(q); err != nil {
			b.Fatal(err)
		}
	}
	raw := []byte(strings.Repeat("OBX|1|NM|6690-2^WBC^LN||6.2|10*9/L|4.0-9.0|N|||F\r", 4096/48))
	var blob []byte
	if layout == "no-rows" {
		blob = make([]byte, results*100) // about what 20 values take as JSON
	}
	exec := func(do func(tx *sql.Tx) error) {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if err := do(tx); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	seq := 0
	b.ResetTimer()
	for done := 0; done < b.N; done += group {
		n := min(group, b.N-done)
		ids := make([]int64, n)
		exec(func(tx *sql.Tx) error {
			for i := range ids {
				seq++
				copy(raw, strconv.Itoa(seq))
				sum := sha256.Sum256(raw)
				now := time.Now().UnixMicro()
				if err := tx.Stmt(stmts["message"]).QueryRow(1, "MSG"+strconv.Itoa(seq), now, len(raw),
					hex.EncodeToString(sum[:]), now, raw).Scan(&ids[i]); err != nil {
					return err
				}
			}
			return nil
		})
		exec(func(tx *sql.Tx) error {
			for i, msg := range ids {
				patient, request := (done+i)%5000+1, done+i+1
				now := time.Now().UnixMicro()
				var report int64
				if err := tx.Stmt(stmts["report"]).QueryRow(patient, request, msg, now, now, blob).Scan(&report); err != nil {
					return err
				}
				if layout != "no-rows" {
					args := make([]any, 0, results*28)
					for r := range results {
						code := strconv.Itoa(6690 + r)
						args = append(args, 1, patient, request, request, report, 1, msg, "http://loinc.org", code,
							"display "+code, "final", "quantity", 6.2, "", "", "", "", "", nil, nil, "10*9/L",
							4.0, 9.0, "4.0-9.0", "N", now, now, "")
					}
					if _, err := tx.Stmt(stmts["observations"]).Exec(args...); err != nil {
						return err
					}
				}
				if _, err := tx.Stmt(stmts["status"]).Exec(now, msg); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}
