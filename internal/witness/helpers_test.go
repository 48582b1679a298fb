package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

// testTime is the fixed time of the tests' clocks.
var testTime = time.Unix(1_750_000_000, 0)

func fixedClock() time.Time { return testTime }

// testLog is a log for tests: a Merkle tree of random leaves and the key
// that signs its checkpoints.
type testLog struct {
	origin   string
	signer   note.Signer
	verifier note.Verifier
	leaves   [][]byte
	tree     *testonly.Tree
}

// newTestLog returns a log named origin with n random leaves.
func newTestLog(t testing.TB, origin string, n int) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{origin: origin, signer: signer, verifier: verifier, tree: testonly.New(rfc6962.DefaultHasher)}
	l.grow(t, n)
	return l
}

// grow appends n random leaves.
func (l *testLog) grow(t testing.TB, n int) {
	t.Helper()
	for range n {
		leaf := make([]byte, 16)
		if _, err := rand.Read(leaf); err != nil {
			t.Fatal(err)
		}
		l.leaves = append(l.leaves, leaf)
		l.tree.AppendData(leaf)
	}
}

// fork returns a second instance of the log, with the same key and its
// first at leaves, that then grows on its own to n leaves.
func (l *testLog) fork(t testing.TB, at, n int) *testLog {
	t.Helper()
	f := &testLog{origin: l.origin, signer: l.signer, verifier: l.verifier, tree: testonly.New(rfc6962.DefaultHasher)}
	f.leaves = append(f.leaves, l.leaves[:at]...)
	f.tree.AppendData(f.leaves...)
	f.grow(t, n-at)
	return f
}

// root returns the root hash of the tree of the first size leaves,
// computed with a compact range and checked against the in-memory tree.
func (l *testLog) root(t testing.TB, size uint64) []byte {
	t.Helper()
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, leaf := range l.leaves[:size] {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(leaf), nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	if size == 0 {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	if want := l.tree.HashAt(size); !bytes.Equal(root, want) {
		t.Fatalf("compact range root %x != tree root %x at size %d", root, want, size)
	}
	return root
}

// checkpoint returns the log's signed checkpoint at size.
func (l *testLog) checkpoint(t testing.TB, size uint64) []byte {
	t.Helper()
	return signText(t, fmt.Sprintf("%s\n%d\n%s\n", l.origin, size, b64(l.root(t, size))), l.signer)
}

// proof returns the consistency proof from size from to size to, in
// fresh slices: the tree's own may back it, and tests corrupt proofs.
func (l *testLog) proof(t testing.TB, from, to uint64) [][]byte {
	t.Helper()
	p, err := l.tree.ConsistencyProof(from, to)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		p[i] = bytes.Clone(p[i])
	}
	return p
}

// signText returns text signed by signers as a note.
func signText(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// testWitnessKey is a witness key pair for tests.
type testWitnessKey struct {
	skey, vkey string
	signer     note.Signer
	verifier   note.Verifier
}

func newWitnessKey(t testing.TB, name string) testWitnessKey {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(skey, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testWitnessKey{skey: skey, vkey: vkey, signer: signer, verifier: verifier}
}

// newTestWitness returns a witness over st for logs, signing with key.
func newTestWitness(t testing.TB, key testWitnessKey, st StateStore, logs ...*testLog) *Witness {
	t.Helper()
	cfg := Config{Signer: key.signer, State: st, Clock: fixedClock}
	for _, l := range logs {
		cfg.Logs = append(cfg.Logs, Log{Origin: l.origin, Verifier: l.verifier})
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// verifyCosignature checks that cosig is a valid cosignature by v on the
// signed checkpoint, by appending it to the note as a log client would.
func verifyCosignature(t testing.TB, signedCheckpoint, cosig []byte, v note.Verifier) {
	t.Helper()
	if !bytes.HasPrefix(cosig, []byte("— ")) || !bytes.HasSuffix(cosig, []byte("\n")) {
		t.Fatalf("cosignature %q is not a signature line", cosig)
	}
	n, err := note.Open(append(bytes.Clone(signedCheckpoint), cosig...), note.VerifierList(v))
	if err != nil {
		t.Fatalf("cosignature does not verify: %v\n%s%s", err, signedCheckpoint, cosig)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != v.Name() {
		t.Fatalf("verified signatures = %v, want one by %s", n.Sigs, v.Name())
	}
}

// memStore is an in-memory StateStore with the CAS semantics of
// *store.Store, and hooks to simulate other writers and failures.
type memStore struct {
	mu    sync.Mutex
	blobs map[string]memBlob
	// beforePut, if set, runs before each PutBlob, without the lock held.
	beforePut func(name string)
	// fail, if set, is returned by every call.
	fail error
}

type memBlob struct {
	data    []byte
	version int64
}

func newMemStore() *memStore { return &memStore{blobs: map[string]memBlob{}} }

func (m *memStore) GetBlob(_ context.Context, name string) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, 0, m.fail
	}
	b, ok := m.blobs[name]
	if !ok {
		return nil, 0, fmt.Errorf("get %q: %w", name, store.ErrNotFound)
	}
	return bytes.Clone(b.data), b.version, nil
}

func (m *memStore) PutBlob(_ context.Context, name string, data []byte, expectVersion int64) (int64, error) {
	if m.beforePut != nil {
		m.beforePut(name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	if m.blobs[name].version != expectVersion {
		return 0, fmt.Errorf("put %q: %w", name, store.ErrConflict)
	}
	m.blobs[name] = memBlob{data: bytes.Clone(data), version: expectVersion + 1}
	return expectVersion + 1, nil
}

// snapshot returns a copy of the stored blobs.
func (m *memStore) snapshot() map[string]memBlob {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]memBlob, len(m.blobs))
	for k, v := range m.blobs {
		out[k] = v
	}
	return out
}

// knownSize returns the size the witness recorded for origin in st.
func knownSize(t testing.TB, st StateStore, origin string) (uint64, bool) {
	t.Helper()
	s, _, err := loadState(context.Background(), st, origin)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return 0, false
	}
	return s.Size, true
}

var errStoreDown = errors.New("store is down")

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func b64decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
