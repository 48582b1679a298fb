package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/api"
)

// fakeOrigin is the origin of the fake admin API's ledger. Its checkpoints
// are real (signed, with the RFC 6962 root of the events); its inclusion
// proofs are not: evidence is verified against the real server in
// testdata/script/audit.txtar.
const fakeOrigin = "example.org/kith/ledger"

// newLedgerKey returns a fresh checkpoint signer for fakeOrigin and its
// verifier key.
func newLedgerKey(tb testing.TB) (note.Signer, string) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, fakeOrigin)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, vkey
}

// leafHash is the RFC 6962 hash of the leaf data b.
func leafHash(b []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(b) }

// checkpoint returns the signed checkpoint of the first n events, or nil
// for n = 0. f.mu must be held.
func (f *fakeAdmin) checkpoint(n int) []byte {
	if n <= 0 {
		return nil
	}
	r := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, e := range f.events[:n] {
		if err := r.Append(leafHash(e.Event), nil); err != nil {
			panic(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		panic(err)
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", fakeOrigin, n, base64.StdEncoding.EncodeToString(root))}, f.ledgerKey)
	if err != nil {
		panic(err)
	}
	return msg
}

// latestCheckpoint returns the fake ledger's latest checkpoint, nil if none.
func (f *fakeAdmin) latestCheckpoint() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checkpoint(len(f.events) - f.checkpointLag)
}

// ledgerRoutes are the fake's ledger and export routes.
func (f *fakeAdmin) ledgerRoutes() map[string]func(http.ResponseWriter, *http.Request) {
	return map[string]func(http.ResponseWriter, *http.Request){
		"GET /v1/ledger/key":              f.ledgerKeyRoute,
		"GET /v1/ledger/checkpoint":       f.ledgerCheckpoint,
		"GET /v1/ledger/checkpoints":      f.ledgerCheckpoints,
		"GET /v1/ledger/entries":          f.ledgerEntries,
		"GET /v1/ledger/evidence/{index}": f.ledgerEvidence,
		"GET /v1/events/export":           f.exportEvents,
	}
}

func (f *fakeAdmin) ledgerKeyRoute(w http.ResponseWriter, _ *http.Request) {
	reply(w, http.StatusOK, api.LedgerKey{Origin: fakeOrigin, VerifierKey: f.ledgerVKey})
}

func (f *fakeAdmin) ledgerCheckpoint(w http.ResponseWriter, _ *http.Request) {
	cp := f.latestCheckpoint()
	if cp == nil {
		problem(w, http.StatusNotFound, "the ledger has no checkpoint yet; retry in a second")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(cp)
}

// ledgerCheckpoints serves the latest checkpoint as the only one published.
func (f *fakeAdmin) ledgerCheckpoints(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.URL.Query().Get("after_size"))
	out := api.Checkpoints{Checkpoints: []string{}}
	f.mu.Lock()
	if n := len(f.events) - f.checkpointLag; n > after {
		out.Checkpoints = append(out.Checkpoints, string(f.checkpoint(n)))
	}
	f.mu.Unlock()
	replyIndented(w, out)
}

// event returns the event at index s, a decimal string.
func (f *fakeAdmin) event(s string) (api.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= len(f.events) {
		return api.Event{}, false
	}
	return f.events[i], true
}

// ledgerEntries serves leaves, with f.tampered's data in place of the
// logged one (under the logged leaf hash).
func (f *fakeAdmin) ledgerEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, _ := strconv.Atoi(q.Get("start"))
	end, _ := strconv.Atoi(q.Get("end"))
	out := api.LedgerEntries{Entries: []api.LedgerEntry{}}
	for i := start; i < end; i++ {
		e, ok := f.event(strconv.Itoa(i))
		if !ok {
			problem(w, http.StatusBadRequest, fmt.Sprintf("index %d is beyond the ledger", i))
			return
		}
		data := e.Event
		if d, ok := f.tampered[uint64(i)]; ok {
			data = json.RawMessage(d)
		}
		out.Entries = append(out.Entries, api.LedgerEntry{Index: uint64(i), Data: data, LeafHash: leafHash(e.Event)})
	}
	replyIndented(w, out)
}

func (f *fakeAdmin) ledgerEvidence(w http.ResponseWriter, r *http.Request) {
	e, ok := f.event(r.PathValue("index"))
	if !ok {
		problem(w, http.StatusBadRequest, "index is beyond the ledger")
		return
	}
	replyIndented(w, api.Evidence{Index: uint64(e.Index), Entry: e.Event, Proof: [][]byte{bytes.Repeat([]byte{7}, 32)}, Checkpoint: string(f.latestCheckpoint())})
}

// replyIndented writes v as indented JSON, as the real server does (leaf
// data included), to check that the client restores the exact leaf bytes.
func replyIndented(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// exportEvents streams the events of the requested type, or cuts the
// stream half-way if f.cutExport is set.
func (f *fakeAdmin) exportEvents(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "jsonl" && format != "csv" {
		problem(w, http.StatusBadRequest, "format must be jsonl or csv")
		return
	}
	f.mu.Lock()
	events, cut := f.events, f.cutExport
	f.mu.Unlock()
	if format == "csv" {
		fmt.Fprintln(w, "index,time,type")
	}
	for i, e := range events {
		var head struct {
			Time string
			Type string
		}
		_ = json.Unmarshal(e.Event, &head)
		if typ := r.URL.Query().Get("type"); typ != "" && head.Type != typ {
			continue
		}
		if cut && i == len(events)/2 {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		if format == "csv" {
			fmt.Fprintf(w, "%d,%s,%s\n", e.Index, head.Time, head.Type)
		} else {
			line, _ := json.Marshal(e)
			fmt.Fprintf(w, "%s\n", line)
		}
	}
}

// exportLines returns the non-empty lines of s.
func exportLines(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == '\n' })
}
