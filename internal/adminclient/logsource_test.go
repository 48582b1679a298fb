package adminclient_test

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
	"github.com/kith-dev/kith/internal/ledger"
)

// leafData is the leaf at index i of the test logs.
func leafData(i uint64) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)) }

func TestLogSourceEntries(t *testing.T) {
	tests := []struct {
		name       string
		size       uint64 // leaves the server holds
		mangle     func(*api.LedgerEntries)
		start, end uint64
		wantCalls  []string // "start-end"
		wantErr    string
		// wantIndexes are the leaves passed on, when not [start, end):
		// gaps and extras go to the verifier, which names them.
		wantIndexes []uint64
	}{
		{name: "one call", size: 10, start: 2, end: 5, wantCalls: []string{"2-5"}},
		{name: "split in chunks of 1000", size: 2500, start: 0, end: 2500, wantCalls: []string{"0-1000", "1000-2000", "2000-2500"}},
		{name: "short pages are continued", size: 2500, start: 0, end: 1500,
			mangle:    func(l *api.LedgerEntries) { l.Entries = l.Entries[:min(len(l.Entries), 300)] },
			wantCalls: []string{"0-1000", "300-1300", "600-1500", "900-1500", "1200-1500"}},
		{name: "empty range", size: 10, start: 4, end: 4},
		{name: "backwards range", size: 10, start: 5, end: 4, wantErr: "end 4 is before start 5"},
		{name: "nothing returned", size: 10, start: 0, end: 3, mangle: func(l *api.LedgerEntries) { l.Entries = nil },
			wantCalls: []string{"0-3"}, wantIndexes: []uint64{}},
		{name: "skipped leaf", size: 10, start: 0, end: 3, mangle: func(l *api.LedgerEntries) { l.Entries = l.Entries[1:] },
			wantCalls: []string{"0-3"}, wantIndexes: []uint64{1, 2}},
		{name: "too many", size: 10, start: 0, end: 3,
			mangle: func(l *api.LedgerEntries) {
				l.Entries = append(l.Entries, api.LedgerEntry{Index: 3, Data: leafData(3), LeafHash: []byte{3}})
			},
			wantCalls: []string{"0-3"}, wantIndexes: []uint64{0, 1, 2, 3}},
		{name: "server refuses", size: 2, start: 0, end: 3, wantCalls: []string{"0-3"}, wantErr: "get ledger entries [0, 3): 400 Bad Request"},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var calls []string
			srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				start, _ := strconv.ParseUint(r.URL.Query().Get("start"), 10, 64)
				end, _ := strconv.ParseUint(r.URL.Query().Get("end"), 10, 64)
				mu.Lock()
				calls = append(calls, fmt.Sprintf("%d-%d", start, end))
				mu.Unlock()
				if end > tt.size || end-start > 1000 {
					w.Header().Set("Content-Type", "application/problem+json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"title":"Bad Request","status":400}`))
					return
				}
				var out api.LedgerEntries
				for i := start; i < end; i++ {
					out.Entries = append(out.Entries, api.LedgerEntry{Index: i, Data: leafData(i), LeafHash: []byte{byte(i)}})
				}
				if tt.mangle != nil {
					tt.mangle(&out)
				}
				_, _ = w.Write([]byte(mustJSON(t, out)))
			}))
			src := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).LogSource()
			got, err := src.Entries(t.Context(), tt.start, tt.end)
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			idx := tt.wantIndexes
			if idx == nil {
				for i := tt.start; i < tt.end; i++ {
					idx = append(idx, i)
				}
			}
			var want []ledger.Entry
			for _, i := range idx {
				want = append(want, ledger.Entry{Index: i, Data: leafData(i), LeafHash: []byte{byte(i)}})
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogSourceCheckpoints(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	var gotQuery string
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/ledger/checkpoints":
			gotQuery = r.URL.RawQuery
			_, _ = w.Write([]byte(`{"checkpoints":["o\n4\nAA==\n\n— o sig\n","o\n9\nAA==\n\n— o sig\n"]}`))
		case "/v1/ledger/checkpoint":
			_, _ = w.Write([]byte("o\n9\nAA==\n\n— o sig\n"))
		}
	}))
	src := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).LogSource()
	cps, err := src.Checkpoints(t.Context(), 3, 50)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("o\n4\nAA==\n\n— o sig\n"), []byte("o\n9\nAA==\n\n— o sig\n")}
	if diff := cmp.Diff(want, cps); diff != "" {
		t.Errorf("checkpoints (-want +got):\n%s", diff)
	}
	if gotQuery != "after_size=3&limit=50" {
		t.Errorf("query = %q", gotQuery)
	}
	cp, err := src.Checkpoint(t.Context())
	if err != nil || string(cp) != string(want[1]) {
		t.Errorf("Checkpoint = %q, %v; want %q", cp, err, want[1])
	}
}
