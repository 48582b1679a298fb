package ledger_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
)

// fuzzKey is a fixed log key, so that seeds carry valid signatures.
const fuzzKey = "PRIVATE+KEY+example.org/kith/ledger+5a7cfb07+AZxR/1y0ghxj4Jla78UlVp9y/pUSJq/Sw3rc9xHGY1UE"

func fuzzSigner(f *testing.F) *ledger.Signer {
	f.Helper()
	s, err := ledger.NewSigner(fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzParseCheckpoint checks that parsing a note never panics and that
// whatever parses re-serializes to the same bytes.
func FuzzParseCheckpoint(f *testing.F) {
	signer := fuzzSigner(f)
	root := bytes.Repeat([]byte{0xab}, 32)
	for _, body := range [][]byte{
		ledger.CheckpointBody(testOrigin, 0, root),
		ledger.CheckpointBody(testOrigin, 12345, root),
		[]byte(testOrigin + "\n7\n" + "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\nextension\n"),
		[]byte("\n\n\n"),
	} {
		msg, err := note.Sign(&note.Note{Text: string(body)}, signer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
		f.Add(body)
	}
	f.Add([]byte("— x AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		cp, err := ledger.ParseCheckpoint(msg, signer.Verifier())
		if err == nil {
			if !bytes.Equal(cp.Note, msg) {
				t.Errorf("Note %q is not the input %q", cp.Note, msg)
			}
			n, err := note.Open(msg, note.VerifierList(signer.Verifier()))
			if err != nil {
				t.Fatalf("parsed note does not open: %v", err)
			}
			if got := string(ledger.CheckpointBody(cp.Origin, cp.Size, cp.Root)); got != n.Text {
				t.Errorf("re-serialized body %q, note text %q", got, n.Text)
			}
		}
		// The body parser alone, on the raw input.
		if cp, err := ledger.ParseCheckpointBody(string(msg)); err == nil {
			if got := ledger.CheckpointBody(cp.Origin, cp.Size, cp.Root); !bytes.Equal(got, msg) {
				t.Errorf("body %q re-serializes to %q", msg, got)
			}
		}
	})
}

// FuzzDecodeEntry checks that decoding entries and evidence never panics,
// and that a decoded index is the one the entry begins with.
func FuzzDecodeEntry(f *testing.F) {
	signer := fuzzSigner(f)
	f.Add([]byte(`{"index":0,"time":"2025-01-01T00:00:00Z","type":"x","actor":{"kind":"system","id":"kith"},"action":"a","outcome":"success"}`))
	f.Add([]byte(`{"index":18446744073709551615}`))
	f.Add([]byte(`{"index":18446744073709551616}`))
	f.Add([]byte(`{"index":01,"a":1}`))
	f.Add([]byte(`{"index":5,}`))
	f.Add([]byte(`{"index":-1}`))
	f.Add([]byte(`{"index":3`))
	f.Add([]byte(`{"index":7,"entry":"x","inclusion_proof":["AA=="],"checkpoint":"example.org/kith/ledger\n1\nAA==\n"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if index, err := ledger.EntryIndex(data); err == nil {
			prefix := ledger.AppendEntry(nil, index, []byte("{}"))
			prefix = prefix[:len(prefix)-1] // without the closing brace
			if !bytes.HasPrefix(data, prefix) || !json.Valid(data) {
				t.Errorf("EntryIndex(%q) = %d", data, index)
			}
		}
		var e ledger.Evidence
		if json.Unmarshal(data, &e) == nil {
			if err := ledger.VerifyEvidence(&e, signer.Verifier()); err == nil {
				t.Errorf("evidence %q verified", data)
			}
		}
		e = ledger.Evidence{Index: 0, Entry: data, Checkpoint: string(data)}
		_ = ledger.VerifyEvidence(&e, signer.Verifier())
	})
}

// FuzzFit checks that fit leaves an event that fits alone and shortens
// any other, of any text, to an entry within the limit.
func FuzzFit(f *testing.F) {
	f.Add("<\x00é", "reason", "k", 20000, uint16(3))
	f.Add("a", "b", "c", 1, uint16(0))
	f.Fuzz(func(t *testing.T, text, reason, key string, repeat int, keys uint16) {
		repeat = min(max(repeat, 0), 70_000/max(len(text)+len(reason)+len(key), 1))
		ev := audit.Event{Time: time.Unix(1700000000, 0).UTC(), Type: "t", Actor: audit.Actor{Kind: "workload", ID: strings.Repeat(text, repeat)},
			Action: "a", Outcome: audit.OutcomeSuccess, Reason: strings.Repeat(reason, repeat), Details: map[string]string{}}
		for i := range int(keys % 4096) {
			ev.Details[fmt.Sprint(key, i)] = strings.Repeat(key, repeat%64)
		}
		want, err := audit.Marshal(ev)
		if err != nil {
			return
		}
		got, body, err := ledger.Fit(ev)
		if err != nil {
			t.Fatalf("fit: %v", err)
		}
		if len(body)+32 > ledger.MaxEntrySize {
			t.Fatalf("fit left %d bytes", len(body))
		}
		if len(want)+32 <= ledger.MaxEntrySize && !bytes.Equal(body, want) {
			t.Fatalf("fit changed an event that fits")
		}
		if got.Type != ev.Type || got.Action != ev.Action || got.Outcome != ev.Outcome {
			t.Fatalf("fit changed the type, action or outcome")
		}
	})
}
