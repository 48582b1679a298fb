package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/store/storetest"
)

// tamperEvent edits, in the store's database, the body of the first
// event holding old, as someone with write access to the database could,
// and returns its index. Leaf hashes and the tree are left as they are.
func tamperEvent(t testing.TB, db *sql.DB, postgres bool, old, new string) int64 {
	t.Helper()
	ph := func(i int) string {
		if postgres {
			return fmt.Sprintf("$%d", i)
		}
		return "?"
	}
	rows, err := db.QueryContext(t.Context(), `SELECT last_idx, first_idx, events FROM ledger_bundles ORDER BY last_idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var last, first int64
		var data []byte
		if err := rows.Scan(&last, &first, &data); err != nil {
			t.Fatal(err)
		}
		evs, err := store.DecodeEvents(first, data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range evs {
			if bytes.Contains(evs[i].Body, []byte(old)) {
				evs[i].Body = bytes.Replace(evs[i].Body, []byte(old), []byte(new), 1)
				rows.Close()
				if _, err := db.ExecContext(t.Context(), `UPDATE ledger_bundles SET events = `+ph(1)+` WHERE last_idx = `+ph(2),
					store.EncodeEvents(evs), last); err != nil {
					t.Fatal(err)
				}
				return evs[i].Index
			}
		}
	}
	t.Fatalf("no event holds %q", old)
	return 0
}

// readyz returns the status code and body of GET /readyz.
func (ts *testServer) readyz(t testing.TB) (int, map[string]string) {
	t.Helper()
	resp, err := ts.client.Get("https://" + ts.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestTamperedLedger alters an event in the store behind a server's audit
// ledger, on SQLite and PostgreSQL: a server started on it reports it at
// once (not ready, with the first bad entry, a metric and an error log),
// and a running server finds it at its next verification of the whole
// log.
func TestTamperedLedger(t *testing.T) {
	for _, be := range []struct {
		name     string
		postgres bool
	}{{"sqlite", false}, {"postgres", true}} {
		t.Run(be.name, func(t *testing.T) {
			dir := t.TempDir()
			storeURL, driver, dsn := "", "sqlite", filepath.Join(dir, "kith.db")+"?_pragma=busy_timeout(5000)"
			if be.postgres {
				storeURL = storetest.PostgresURL(t)
				driver, dsn = "pgx", storeURL
			}
			var logs syncBuffer
			cfg := func(c *Config) {
				c.DataDir, c.StoreURL, c.LedgerVerifyInterval = dir, storeURL, -1 // the test verifies when it wants
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			}
			db, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			// A running server: verified, then altered under it.
			ctx, stop := context.WithCancel(t.Context())
			ts := startServerCtx(t, ctx, "example.org", cfg)
			if code := ts.do(t, "POST", "/v1/entries", ts.token, api.Entry{SPIFFEID: "spiffe://example.org/orders",
				AnyAgent: true, Selectors: []string{"unix:uid:1"}}, nil); code != http.StatusCreated {
				t.Fatalf("create entry: %d", code)
			}
			ts.verifyLedger(t.Context())
			if code, body := ts.readyz(t); code != http.StatusOK {
				t.Fatalf("readyz before any change: %d %v", code, body)
			}
			if ts.metricValue(t, "kith_ledger_verified_timestamp_seconds") <= 0 {
				t.Error("no time of the last good verification")
			}
			bad := tamperEvent(t, db, be.postgres, "spiffe://example.org/orders", "spiffe://example.org/ordres")
			ts.verifyLedger(t.Context())
			checkNotReady(t, ts, bad, &logs)
			stop()
			ts.wait(t)

			// The same store at the next start.
			logs = syncBuffer{}
			ts = startServer(t, "example.org", cfg)
			checkNotReady(t, ts, bad, &logs)
		})
	}
}

// checkNotReady checks that ts reports its ledger altered at entry bad.
func checkNotReady(t *testing.T, ts *testServer, bad int64, logs *syncBuffer) {
	t.Helper()
	code, body := ts.readyz(t)
	if want := fmt.Sprintf("first bad entry %d", bad); code != http.StatusServiceUnavailable || !strings.Contains(body["reason"], want) {
		t.Errorf("readyz = %d %v, want 503 with %q", code, body, want)
	}
	if n := ts.metricValue(t, "kith_ledger_verification_failures_total"); n != 1 {
		t.Errorf("kith_ledger_verification_failures_total = %v, want 1", n)
	}
	if want := fmt.Sprintf("first_bad_entry=%d", bad); !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), want) {
		t.Errorf("no error log naming %s:\n%s", want, logs.String())
	}
}
