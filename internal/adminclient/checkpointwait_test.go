package adminclient_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
	"github.com/kith-dev/kith/internal/ledger"
)

const testOrigin = "example.org/kith/ledger"

// signCheckpoint returns a checkpoint note of size signed with skey.
func signCheckpoint(tb testing.TB, skey string, size uint64) []byte {
	tb.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	root := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(size)}, 32))
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", testOrigin, size, root)}, s)
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// ledgerServer serves a ledger of events events whose successive
// checkpoint requests get the sizes in sizes (0 for none yet), the last
// one repeating.
type ledgerServer struct {
	tb         testing.TB
	skey, vkey string
	events     int64
	mu         sync.Mutex
	sizes      []uint64
	eventCalls []string // the "after" of each /v1/events call
}

func (s *ledgerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/v1/ledger/key":
		_, _ = w.Write([]byte(mustJSON(s.tb, api.LedgerKey{Origin: testOrigin, VerifierKey: s.vkey})))
	case "/v1/ledger/checkpoint":
		size := s.sizes[0]
		if len(s.sizes) > 1 {
			s.sizes = s.sizes[1:]
		}
		if size == 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"title":"Not Found","status":404}`))
			return
		}
		_, _ = w.Write(signCheckpoint(s.tb, s.skey, size))
	case "/v1/events":
		after := int64(-1)
		if v := r.URL.Query().Get("after"); v != "" {
			after, _ = strconv.ParseInt(v, 10, 64)
		}
		s.eventCalls = append(s.eventCalls, r.URL.Query().Get("after"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		out := api.EventList{Events: []api.Event{}}
		for i := after + 1; i < s.events && len(out.Events) < min(limit, 2); i++ {
			out.Events = append(out.Events, api.Event{Index: i, Event: []byte(`{}`)})
		}
		_, _ = w.Write([]byte(mustJSON(s.tb, out)))
	default:
		http.NotFound(w, r)
	}
}

func TestWaitCheckpoint(t *testing.T) {
	skey, vkey, err := ledger.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ledger.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		vkey       string // served key; vkey if empty
		events     int64
		sizes      []uint64
		timeout    time.Duration
		wantSize   uint64
		wantErr    string
		wantEvents []string
	}{
		{name: "already covered", events: 5, sizes: []uint64{5}, wantSize: 5, wantEvents: []string{"4"}},
		{name: "waits for the ledger's size", events: 5, sizes: []uint64{3, 3, 4, 5}, wantSize: 5, wantEvents: []string{"2", "4"}},
		{name: "no checkpoint yet", events: 3, sizes: []uint64{0, 0, 3}, wantSize: 3, wantEvents: []string{"", "1", "2"}},
		{name: "times out", events: 5, sizes: []uint64{3}, timeout: 300 * time.Millisecond,
			wantErr: "wait for a checkpoint of size 5 (latest is 3): context deadline exceeded", wantEvents: []string{"2", "4"}},
		{name: "foreign signature", vkey: otherKey, events: 5, sizes: []uint64{5},
			wantErr: "checkpoint from the server: ledger: invalid checkpoint: not signed by"},
	}
	ca := adminclienttest.NewCA(t, testTD)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := &ledgerServer{tb: t, skey: skey, vkey: vkey, events: tt.events, sizes: tt.sizes}
			if tt.vkey != "" {
				ls.vkey = tt.vkey
			}
			srv := adminclienttest.NewTLSServer(t, ca, serverID, ls)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			got, err := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD).WaitCheckpoint(ctx, 10*time.Millisecond)
			if strings.Join(ls.eventCalls, ",") != strings.Join(tt.wantEvents, ",") {
				t.Errorf("event reads after %q, want %q", ls.eventCalls, tt.wantEvents)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if tt.timeout > 0 && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not wrap the deadline", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := signCheckpoint(t, skey, tt.wantSize); !bytes.Equal(got, want) {
				t.Errorf("checkpoint = %q, want %q", got, want)
			}
		})
	}
}
