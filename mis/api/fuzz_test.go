package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/medgate/medgate/mis/api"
	"github.com/medgate/medgate/mis/auth"
	"github.com/medgate/medgate/mis/bootstrap"
	"github.com/medgate/medgate/mis/domain"
	"github.com/medgate/medgate/mis/store"
	"github.com/medgate/medgate/mis/store/sqlite"
)

// FuzzCreatePatientBody sends arbitrary bytes, whole or in two writes, as a
// patient: the answer is always a deliberate one (never 500), an error
// always says what is wrong, and a refused body writes nothing.
func FuzzCreatePatientBody(f *testing.F) {
	for _, seed := range []string{
		`{"family":"Иванов","given":"Пётр","birthDate":"1980-02-03","gender":"male","snils":"112-233-445 95"}`,
		`{"family":"Иванов","given":"Пётр","birthDate":1980}`,
		`{"family":"Иванов","foo":1}`,
		`{"family":"Иванов",`,
		`{"identifier":[{"system":"urn:x","value":"1"},{"system":"urn:x","value":"1"}]}`,
		`[]`, `null`, `{} {}`, "\xff\xfe", `{"family":"\u0000"}`,
	} {
		f.Add([]byte(seed), uint8(7))
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	hasher := auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	if _, err := bootstrap.FirstRun(ctx, st, hasher, domain.Organization{Name: "Клиника"}, "fuzz-password-1"); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Store: st, Hasher: hasher, MaxPatients: 1000000}).Handler())
	f.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/api/v1/login", "application/json", bytes.NewReader([]byte(`{"login":"admin","password":"fuzz-password-1"}`)))
	if err != nil {
		f.Fatal(err)
	}
	var sess struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()

	count := func(t *testing.T) int {
		list, _, err := st.ListAudit(ctx, store.AuditQuery{Page: store.Page{Limit: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			return 0
		}
		return int(list[0].ID)
	}
	f.Fuzz(func(t *testing.T, body []byte, split uint8) {
		before := count(t)
		cut := int(split) % (len(body) + 1)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(body[:cut])
			pw.Write(body[cut:])
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/patients", pr)
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+sess.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Error *struct {
				Status  int
				Code    string
				Message string
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("status %d with a body that is not JSON: %v", resp.StatusCode, err)
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			return
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if out.Error == nil || out.Error.Message == "" || out.Error.Status != resp.StatusCode {
				t.Fatalf("status %d without an error message", resp.StatusCode)
			}
		default:
			t.Fatalf("unexpected status %d for %q", resp.StatusCode, body)
		}
		if after := count(t); after != before {
			t.Fatalf("refused body wrote %d audit events", after-before)
		}
	})
}
