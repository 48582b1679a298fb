package ledger_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/ledger"
)

// fakeWitness is a witness in memory: it checks the log's signature and
// consistency proofs like a C2SP witness and cosigns with its own note
// key (a plain Ed25519 note signature, which is enough here).
type fakeWitness struct {
	name     string
	signer   note.Signer
	verifier note.Verifier
	log      note.Verifier

	mu     sync.Mutex
	size   uint64
	root   []byte
	refuse bool   // answer every request with an error
	reply  string // if set, returned instead of a cosignature
	calls  []uint64
}

func newFakeWitness(t testing.TB, name string, log note.Verifier) *fakeWitness {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeWitness{name: name, signer: s, verifier: v, log: log}
}

func (w *fakeWitness) Name() string { return w.name }

func (w *fakeWitness) AddCheckpoint(_ context.Context, oldSize uint64, consistency [][]byte, signed []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, oldSize)
	if w.refuse {
		return nil, errors.New("witness refuses")
	}
	cp, err := ledger.ParseCheckpoint(signed, w.log)
	if err != nil {
		return nil, err
	}
	if oldSize != w.size {
		return nil, &ledger.ConflictError{KnownSize: w.size}
	}
	if oldSize > 0 {
		if err := verifyConsistency(&ledger.Checkpoint{Size: oldSize, Root: w.root}, cp, consistency); err != nil {
			return nil, err
		}
	} else if len(consistency) != 0 {
		return nil, errors.New("proof from size 0 is not empty")
	}
	w.size, w.root = cp.Size, cp.Root
	if w.reply != "" {
		return []byte(w.reply), nil
	}
	n, err := note.Open(signed, note.VerifierList(w.log))
	if err != nil {
		return nil, err
	}
	cosigned, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, err
	}
	_, lines, _ := strings.Cut(string(cosigned), "\n\n")
	return []byte(lines), nil
}

func (w *fakeWitness) set(f func(w *fakeWitness)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

func (w *fakeWitness) oldSizes() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint64(nil), w.calls...)
}

// verifyingWitness is a fakeWitness whose cosignatures the ledger checks.
type verifyingWitness struct{ *fakeWitness }

func (w verifyingWitness) Verifier() note.Verifier { return w.verifier }

// cosignedBy returns the names of the witnesses among ws whose valid
// cosignatures msg carries.
func cosignedBy(t testing.TB, msg []byte, ws ...*fakeWitness) []string {
	t.Helper()
	var names []string
	for _, w := range ws {
		n, err := note.Open(msg, note.VerifierList(w.verifier))
		if err == nil && len(n.Sigs) == 1 {
			names = append(names, w.name)
		}
	}
	return names
}

func TestWitnessQuorum(t *testing.T) {
	signer := newSigner(t)
	w := []*fakeWitness{
		newFakeWitness(t, "w0.example", signer.Verifier()),
		newFakeWitness(t, "w1.example", signer.Verifier()),
		newFakeWitness(t, "w2.example", signer.Verifier()),
	}
	l := newLedger(t, openStore(t, sqliteURL(t)), signer, func(c *ledger.Config) {
		c.Witnesses = []ledger.Witness{w[0], w[1], verifyingWitness{w[2]}}
		c.Quorum = 2
	})
	for i := range 3 {
		mustRecord(t, l, testEvent(i))
	}

	// Two of three refuse: below quorum, nothing is published.
	w[0].set(func(w *fakeWitness) { w.refuse = true })
	w[1].set(func(w *fakeWitness) { w.refuse = true })
	if _, err := l.PublishForTest(t.Context()); !errors.Is(err, ledger.ErrQuorum) {
		t.Fatalf("publish with 1 of 2 cosignatures: error = %v, want ErrQuorum", err)
	}
	if _, err := l.Checkpoint(t.Context()); !errors.Is(err, ledger.ErrNoCheckpoint) {
		t.Fatalf("Checkpoint after a failed quorum: error = %v, want ErrNoCheckpoint", err)
	}

	// One comes back: quorum reached, the note carries both cosignatures.
	w[1].set(func(w *fakeWitness) { w.refuse = false })
	cp := mustPublish(t, l)
	if got := cosignedBy(t, cp.Note, w...); strings.Join(got, ",") != "w1.example,w2.example" {
		t.Errorf("checkpoint cosigned by %v, want w1 and w2", got)
	}
	if _, err := ledger.ParseCheckpoint(cp.Note, signer.Verifier()); err != nil {
		t.Errorf("cosigned checkpoint does not parse: %v", err)
	}

	// Next round: w1 and w2 are asked from size 3 with a consistency
	// proof they check; w0 still holds nothing and says so.
	w[0].set(func(w *fakeWitness) { w.refuse = false })
	for i := 3; i < 7; i++ {
		mustRecord(t, l, testEvent(i))
	}
	cp = mustPublish(t, l)
	if got := cosignedBy(t, cp.Note, w...); len(got) != 3 {
		t.Errorf("second checkpoint cosigned by %v, want all three", got)
	}
	if got := w[1].oldSizes(); len(got) != 3 || got[2] != 3 {
		t.Errorf("w1 was asked with old sizes %v, want the last to be 3", got)
	}
}

// TestWitnessConflict has a witness that already holds a checkpoint the
// ledger does not know of: it answers 409 with its size, and the ledger
// retries once from there.
func TestWitnessConflict(t *testing.T) {
	url := sqliteURL(t)
	signer := newSigner(t)
	w := newFakeWitness(t, "w.example", signer.Verifier())
	// A first ledger process publishes size 4 with the witness.
	first := newLedger(t, openStore(t, url), signer, func(c *ledger.Config) {
		c.Witnesses, c.Quorum = []ledger.Witness{w}, 1
	})
	for i := range 4 {
		mustRecord(t, first, testEvent(i))
	}
	mustPublish(t, first)
	// A restarted one does not know what the witness holds.
	l := newLedger(t, openStore(t, url), signer, func(c *ledger.Config) {
		c.Witnesses, c.Quorum = []ledger.Witness{w}, 1
	})
	for i := 4; i < 6; i++ {
		mustRecord(t, l, testEvent(i))
	}
	cp := mustPublish(t, l)
	if cp.Size != 6 || len(cosignedBy(t, cp.Note, w)) != 1 {
		t.Errorf("checkpoint size %d cosigned by %v; want 6, cosigned", cp.Size, cosignedBy(t, cp.Note, w))
	}
	if got := w.oldSizes(); len(got) != 3 || got[1] != 0 || got[2] != 4 {
		t.Errorf("witness asked with old sizes %v, want [0 0 4]", got)
	}
}

func TestWitnessBadCosignatures(t *testing.T) {
	signer := newSigner(t)
	impostor := newFakeWitness(t, "w.example", signer.Verifier()) // same name, other key
	tests := []struct {
		name  string
		reply string
	}{
		{"garbage", "garbage\n"},
		{"no newline", "— w.example AAAAAAAA"},
		{"not base64", "— w.example !!!!\n"},
		{"claims the log's key", "— " + testOrigin + " AAAAAAAAAAAA\n"},
		{"wrong key", string(func() []byte {
			msg := signNote(t, "x\n", impostor.signer)
			_, lines, _ := strings.Cut(string(msg), "\n\n")
			return []byte(lines)
		}())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWitness(t, "w.example", signer.Verifier())
			w.reply = tc.reply
			l := newLedger(t, openStore(t, sqliteURL(t)), signer, func(c *ledger.Config) {
				c.Witnesses, c.Quorum = []ledger.Witness{verifyingWitness{w}}, 1
			})
			mustRecord(t, l, testEvent(0))
			if _, err := l.PublishForTest(t.Context()); !errors.Is(err, ledger.ErrQuorum) {
				t.Errorf("publish with a bad cosignature: error = %v, want ErrQuorum", err)
			}
		})
	}
}

// TestWitnessOptional publishes with Quorum 0 although the only witness
// refuses.
func TestWitnessOptional(t *testing.T) {
	signer := newSigner(t)
	w := newFakeWitness(t, "w.example", signer.Verifier())
	w.refuse = true
	l := newLedger(t, openStore(t, sqliteURL(t)), signer, func(c *ledger.Config) {
		c.Witnesses = []ledger.Witness{w}
	})
	mustRecord(t, l, testEvent(0))
	if cp := mustPublish(t, l); cp.Size != 1 {
		t.Errorf("checkpoint size %d, want 1", cp.Size)
	}
}
