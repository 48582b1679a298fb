package ledger_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/ledger"
)

func TestEvidence(t *testing.T) {
	l, _, signer := testLedger(t)
	if _, err := l.Evidence(t.Context(), 0); !errors.Is(err, ledger.ErrNoCheckpoint) {
		t.Errorf("Evidence before any checkpoint: error = %v, want ErrNoCheckpoint", err)
	}
	for i := range 11 {
		mustRecord(t, l, testEvent(i))
	}
	mustPublish(t, l)
	mustRecord(t, l, testEvent(11))
	if _, err := l.Evidence(t.Context(), 11); !errors.Is(err, ledger.ErrOutOfRange) {
		t.Errorf("Evidence of an entry not yet in a checkpoint: error = %v, want ErrOutOfRange", err)
	}
	for i := range uint64(11) {
		e, err := l.Evidence(t.Context(), i)
		if err != nil {
			t.Fatalf("Evidence(%d): %v", i, err)
		}
		// It survives a trip through JSON, and verifies offline.
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back ledger.Evidence
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyEvidence(&back, signer.Verifier()); err != nil {
			t.Errorf("VerifyEvidence(%d): %v", i, err)
		}
	}

	e, err := l.Evidence(t.Context(), 6)
	if err != nil {
		t.Fatal(err)
	}
	// Reformatted by a JSON tool: still verifies.
	raw, _ := json.Marshal(e)
	var indented bytes.Buffer
	json.Indent(&indented, raw, "", "  ")
	var pretty ledger.Evidence
	if err := json.Unmarshal(indented.Bytes(), &pretty); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(pretty.Entry, e.Entry) {
		t.Fatal("indenting did not change the entry")
	}
	if err := ledger.VerifyEvidence(&pretty, signer.Verifier()); err != nil {
		t.Errorf("VerifyEvidence of indented evidence: %v", err)
	}

	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 1; return b }
	tests := []struct {
		name string
		edit func(e *ledger.Evidence)
	}{
		{"entry edited", func(e *ledger.Evidence) { e.Entry = bytes.Replace(e.Entry, []byte("entry-6"), []byte("entry-7"), 1) }},
		{"entry not JSON", func(e *ledger.Evidence) { e.Entry = append(bytes.Clone(e.Entry), '}') }},
		{"index edited", func(e *ledger.Evidence) { e.Index = 7 }},
		{"embedded index edited", func(e *ledger.Evidence) {
			e.Entry = bytes.Replace(e.Entry, []byte(`"index":6`), []byte(`"index":7`), 1)
		}},
		{"proof edited", func(e *ledger.Evidence) { e.Proof[1] = flip(e.Proof[1]) }},
		{"proof truncated", func(e *ledger.Evidence) { e.Proof = e.Proof[:len(e.Proof)-1] }},
		{"proof extended", func(e *ledger.Evidence) { e.Proof = append(e.Proof, e.Proof[0]) }},
		{"checkpoint edited", func(e *ledger.Evidence) {
			e.Checkpoint = string(bytes.Replace([]byte(e.Checkpoint), []byte("\n11\n"), []byte("\n12\n"), 1))
		}},
		{"index beyond checkpoint", func(e *ledger.Evidence) { e.Index = 11 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := *e
			bad.Entry = bytes.Clone(e.Entry)
			bad.Proof = slices.Clone(e.Proof)
			tc.edit(&bad)
			if err := ledger.VerifyEvidence(&bad, signer.Verifier()); !errors.Is(err, ledger.ErrVerificationFailed) {
				t.Errorf("VerifyEvidence error = %v, want ErrVerificationFailed", err)
			}
		})
	}
	if err := ledger.VerifyEvidence(e, newSigner(t).Verifier()); !errors.Is(err, ledger.ErrInvalidCheckpoint) {
		t.Errorf("VerifyEvidence with another log's key: error = %v, want ErrInvalidCheckpoint", err)
	}
	if err := ledger.VerifyEvidence(nil, signer.Verifier()); err == nil {
		t.Error("VerifyEvidence(nil) succeeded")
	}
}

// TestEvidenceFailureText: a failed check names the roots in hex, on one
// line, once, whatever form the entry was given in.
func TestEvidenceFailureText(t *testing.T) {
	l, _, signer := testLedger(t)
	for i := range 4 {
		mustRecord(t, l, testEvent(i))
	}
	mustPublish(t, l)
	e, err := l.Evidence(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ledger.ParseCheckpoint([]byte(e.Checkpoint), signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(e.Entry, []byte("entry-2"), []byte("entry-3"), 1)
	var indented bytes.Buffer
	json.Indent(&indented, edited, "", "  ")
	for name, entry := range map[string][]byte{"compact": edited, "indented": indented.Bytes()} {
		bad := *e
		bad.Entry = entry
		err := ledger.VerifyEvidence(&bad, signer.Verifier())
		if err == nil {
			t.Fatalf("%s: an edited entry verified", name)
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") || strings.Contains(msg, "[") || !strings.Contains(msg, hex.EncodeToString(cp.Root)) ||
			strings.Count(msg, "root") != 2 {
			t.Errorf("%s: error %q: want one line naming the checkpoint's root %x in hex, and the root the proof leads to", name, msg, cp.Root)
		}
	}
}
