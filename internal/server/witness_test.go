package server

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/witness"
)

// TestLedgerWitnessedByAnotherParty runs a witness in-process beside a
// server whose ledger requires its cosignature: published checkpoints carry
// it, and a forked checkpoint (same size, other root, signed with the
// log's own key) is refused with the tlog-witness status code.
func TestLedgerWitnessedByAnotherParty(t *testing.T) {
	wskey, wvkey, err := witness.GenerateKey("witness.test")
	if err != nil {
		t.Fatal(err)
	}
	var handler atomic.Pointer[http.Handler]
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := handler.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(ws.Close)

	ts := startServer(t, "example.org", func(c *Config) {
		c.Witnesses = []WitnessConfig{{URL: ws.URL, VerifierKey: wvkey}}
		c.WitnessQuorum = 1
		c.CheckpointInterval = 50 * time.Millisecond
	})
	logVerifier, err := note.NewVerifier(ts.LedgerKey())
	if err != nil {
		t.Fatal(err)
	}
	wst, err := store.Open(t.Context(), store.Config{URL: filepath.Join(t.TempDir(), "witness.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wst.Close() })
	signer, err := witness.NewSigner(wskey, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	wit, err := witness.New(witness.Config{Signer: signer, State: wst,
		Logs: []witness.Log{{Origin: ts.Ledger().Origin(), Verifier: logVerifier}}})
	if err != nil {
		t.Fatal(err)
	}
	h := wit.Handler()
	handler.Store(&h)

	// Grow the log and wait for a witnessed checkpoint.
	for i := range 5 {
		in := api.Entry{SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), Selectors: []string{"unix:uid:1"}}
		if code := ts.do(t, "POST", "/v1/entries", ts.token, in, nil); code != http.StatusCreated {
			t.Fatalf("create entry: %d", code)
		}
	}
	wv, err := witness.NewVerifier(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	var cp *ledger.Checkpoint
	witnessed := func() bool {
		cp, err = ts.Ledger().Checkpoint(t.Context())
		if err == nil && cp.Size >= 5 {
			if _, err := note.Open(cp.Note, note.VerifierList(logVerifier, wv)); err == nil && bytes.Count(cp.Note, []byte("\n— ")) >= 2 {
				return true
			}
		}
		return false
	}
	if !await.Signal(15*time.Second, ts.Ledger().Changed, witnessed) {
		t.Fatalf("no witnessed checkpoint: %v, %v", cp, err)
	}
	n, err := note.Open(cp.Note, note.VerifierList(logVerifier, wv))
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Sigs) != 2 {
		t.Errorf("checkpoint carries %d verified signatures, want the log's and the witness's", len(n.Sigs))
	}

	// A fork: the size the witness last cosigned, another root, signed
	// with the log's key. The server keeps recording (and the witness
	// cosigning) in the background, so the size read here may be stale by
	// the time the fork arrives; the witness then answers with the size it
	// knows (ConflictError), and the fork is made again at that size.
	sl, err := loadLedgerSigner(t.Context(), ts.store, ts.kek, ts.Ledger().Origin())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := witness.NewClient(witness.ClientConfig{URL: ws.URL, Verifier: wv})
	if err != nil {
		t.Fatal(err)
	}
	known, err := ts.Ledger().Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	size := known.Size
	for attempt := 0; ; attempt++ {
		var root [32]byte
		rand.Read(root[:])
		body := fmt.Sprintf("%s\n%d\n%s\n", ts.Ledger().Origin(), size, base64.StdEncoding.EncodeToString(root[:]))
		forked, err := note.Sign(&note.Note{Text: body}, sl)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.AddCheckpoint(t.Context(), size, nil, forked)
		var se *witness.StatusError
		if errors.As(err, &se) && se.Code == http.StatusConflict && errors.Is(err, witness.ErrFork) {
			return
		}
		var ce *witness.ConflictError
		if attempt == 10 || !errors.As(err, &ce) {
			t.Fatalf("forked checkpoint at size %d (attempt %d): %v, want 409 with ErrFork", size, attempt, err)
		}
		size = ce.KnownSize
	}
}
