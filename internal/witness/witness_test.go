package witness

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "example.com/log"

// env is a witness configured for one test log, over an in-memory store.
type env struct {
	log *testLog
	key testWitnessKey
	st  *memStore
	w   *Witness
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{log: newTestLog(t, testOrigin, 300), key: newWitnessKey(t, "witness.example/w1"), st: newMemStore()}
	e.w = newTestWitness(t, e.key, e.st, e.log)
	return e
}

// advance has the witness cosign the log at each of sizes in turn, each
// with a proof from the previous one.
func (e *env) advance(t testing.TB, sizes ...uint64) {
	t.Helper()
	old, _ := knownSize(t, e.st, testOrigin)
	for _, size := range sizes {
		var p [][]byte
		if old != 0 && old != size {
			p = e.log.proof(t, old, size)
		}
		cp := e.log.checkpoint(t, size)
		cosig, err := e.w.AddCheckpoint(t.Context(), old, p, cp)
		if err != nil {
			t.Fatalf("advance from %d to %d: %v", old, size, err)
		}
		verifyCosignature(t, cp, cosig, e.key.verifier)
		old = size
	}
}

// corruptSignature flips a bit in the signature (not the key ID) of the
// last signature line of a signed note.
func corruptSignature(t testing.TB, signed []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(signed, []byte(" ")) + 1
	sig, err := b64decode(string(bytes.TrimSuffix(signed[i:], []byte("\n"))))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-10] ^= 1
	return append(append(bytes.Clone(signed[:i]), b64(sig)...), '\n')
}

func TestAddCheckpoint(t *testing.T) {
	type request struct {
		old   uint64
		proof [][]byte
		cp    []byte
	}
	grow := func(from, to uint64) func(t testing.TB, e *env) request {
		return func(t testing.TB, e *env) request {
			var p [][]byte
			if from != 0 && from != to {
				p = e.log.proof(t, from, to)
			}
			return request{from, p, e.log.checkpoint(t, to)}
		}
	}
	for _, tc := range []struct {
		name      string
		known     []uint64 // sizes cosigned before, in order
		req       func(t testing.TB, e *env) request
		wantErr   error // nil: cosigned
		wantCode  int
		wantKnown uint64 // the KnownSize of ErrStaleSize
		wantSize  uint64 // the size recorded after success
	}{
		{name: "first checkpoint", req: grow(0, 100), wantSize: 100},
		{name: "first checkpoint, empty tree", req: grow(0, 0), wantSize: 0},
		{name: "growth", known: []uint64{100}, req: grow(100, 300), wantSize: 300},
		{name: "growth by one leaf", known: []uint64{299}, req: grow(299, 300), wantSize: 300},
		{name: "growth from one leaf", known: []uint64{1}, req: grow(1, 300), wantSize: 300},
		{name: "growth from a power of two", known: []uint64{128}, req: grow(128, 257), wantSize: 257},
		{name: "growth from the empty tree", known: []uint64{0}, req: grow(0, 10), wantSize: 10},
		{name: "same checkpoint again", known: []uint64{100}, req: grow(100, 100), wantSize: 100},
		{name: "after several steps", known: []uint64{3, 17, 64, 65}, req: grow(65, 200), wantSize: 200},
		{
			name: "with other signatures and an extension line",
			req: func(t testing.TB, e *env) request {
				other := newWitnessKey(t, "witness.example/other")
				text := fmt.Sprintf("%s\n%d\n%s\nextension\n", testOrigin, 100, b64(e.log.root(t, 100)))
				return request{0, nil, signText(t, text, e.log.signer, other.signer)}
			},
			wantSize: 100,
		},

		{
			name: "no origin line", req: func(t testing.TB, e *env) request { return request{0, nil, []byte("garbage")} },
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "64 proof hashes",
			req: func(t testing.TB, e *env) request {
				_, p := proofLines(64)
				return request{0, p, e.log.checkpoint(t, 100)}
			},
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "short proof hash", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				r := grow(100, 300)(t, e)
				r.proof[0] = r.proof[0][:31]
				return r
			},
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "checkpoint too large",
			req: func(t testing.TB, e *env) request {
				text := fmt.Sprintf("%s\n100\n%s\n%s\n", testOrigin, b64(e.log.root(t, 100)), strings.Repeat("x", maxRequestSize))
				return request{0, nil, signText(t, text, e.log.signer)}
			},
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "malformed checkpoint body",
			req: func(t testing.TB, e *env) request {
				return request{0, nil, signText(t, testOrigin+"\n0100\n"+b64(e.log.root(t, 100))+"\n", e.log.signer)}
			},
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "malformed note",
			req: func(t testing.TB, e *env) request {
				return request{0, nil, append([]byte(testOrigin+"\n100\n\x01\n\n"), "— x AAAA\n"...)}
			},
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name:    "old size larger than checkpoint",
			req:     func(t testing.TB, e *env) request { return request{200, nil, e.log.checkpoint(t, 100)} },
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},
		{
			name: "smaller checkpoint than the cosigned one", known: []uint64{200},
			req:     func(t testing.TB, e *env) request { return request{200, nil, e.log.checkpoint(t, 100)} },
			wantErr: ErrMalformed, wantCode: http.StatusBadRequest,
		},

		{
			name: "unknown origin",
			req: func(t testing.TB, e *env) request {
				return request{0, nil, newTestLog(t, "example.com/other", 10).checkpoint(t, 10)}
			},
			wantErr: ErrUnknownLog, wantCode: http.StatusNotFound,
		},

		{
			name: "signed by an untrusted key of the same name",
			req: func(t testing.TB, e *env) request {
				impostor := newTestLog(t, testOrigin, 0)
				impostor.leaves, impostor.tree = e.log.leaves, e.log.tree
				return request{0, nil, impostor.checkpoint(t, 100)}
			},
			wantErr: ErrBadSignature, wantCode: http.StatusForbidden,
		},
		{
			name: "signed by another witness only",
			req: func(t testing.TB, e *env) request {
				text := fmt.Sprintf("%s\n%d\n%s\n", testOrigin, 100, b64(e.log.root(t, 100)))
				return request{0, nil, signText(t, text, newWitnessKey(t, "w2").signer)}
			},
			wantErr: ErrBadSignature, wantCode: http.StatusForbidden,
		},
		{
			name: "corrupted log signature",
			req: func(t testing.TB, e *env) request {
				return request{0, nil, corruptSignature(t, e.log.checkpoint(t, 100))}
			},
			wantErr: ErrBadSignature, wantCode: http.StatusForbidden,
		},

		{name: "old size but never cosigned", req: grow(50, 100), wantErr: ErrStaleSize, wantCode: http.StatusConflict, wantKnown: 0},
		{name: "stale old size", known: []uint64{100}, req: grow(50, 200), wantErr: ErrStaleSize, wantCode: http.StatusConflict, wantKnown: 100},
		{name: "old size ahead", known: []uint64{100}, req: grow(150, 200), wantErr: ErrStaleSize, wantCode: http.StatusConflict, wantKnown: 100},
		{name: "old size zero after cosigning", known: []uint64{100}, req: grow(0, 200), wantErr: ErrStaleSize, wantCode: http.StatusConflict, wantKnown: 100},
		{
			name: "smaller checkpoint with its own size as old", known: []uint64{200}, req: grow(100, 100),
			wantErr: ErrStaleSize, wantCode: http.StatusConflict, wantKnown: 200,
		},

		{
			name: "tampered proof", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				r := grow(100, 300)(t, e)
				r.proof[len(r.proof)-1][0] ^= 1
				return r
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "proof for other sizes", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				return request{100, e.log.proof(t, 100, 200), e.log.checkpoint(t, 300)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "truncated proof", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				r := grow(100, 300)(t, e)
				r.proof = r.proof[:len(r.proof)-1]
				return r
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "proof with old size zero",
			req: func(t testing.TB, e *env) request {
				return request{0, e.log.proof(t, 50, 100), e.log.checkpoint(t, 100)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "proof with equal sizes", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				return request{100, e.log.proof(t, 50, 100), e.log.checkpoint(t, 100)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "empty tree with a non-empty root",
			req: func(t testing.TB, e *env) request {
				return request{0, nil, signText(t, testOrigin+"\n0\n"+b64(e.log.root(t, 10))+"\n", e.log.signer)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},

		{
			name: "fork at the same size", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				return request{100, nil, e.log.fork(t, 50, 100).checkpoint(t, 100)}
			},
			wantErr: ErrFork, wantCode: http.StatusConflict,
		},
		{
			name: "fork of the empty tree", known: []uint64{0},
			req: func(t testing.TB, e *env) request {
				return request{0, nil, signText(t, testOrigin+"\n0\n"+b64(make([]byte, 32))+"\n", e.log.signer)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "second instance diverging after the cosigned size", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				f := e.log.fork(t, 100, 300)
				return request{100, f.proof(t, 100, 300), f.checkpoint(t, 300)}
			},
			wantSize: 300, // the fork shares the first 100 leaves: it is a valid extension
		},
		{
			name: "second instance diverging before the cosigned size", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				f := e.log.fork(t, 99, 300)
				return request{100, f.proof(t, 100, 300), f.checkpoint(t, 300)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
		{
			name: "second instance with the honest log's proof", known: []uint64{100},
			req: func(t testing.TB, e *env) request {
				f := e.log.fork(t, 50, 300)
				return request{100, e.log.proof(t, 100, 300), f.checkpoint(t, 300)}
			},
			wantErr: ErrBadProof, wantCode: http.StatusUnprocessableEntity,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.advance(t, tc.known...)
			before := e.st.snapshot()
			r := tc.req(t, e)
			cosig, err := e.w.AddCheckpoint(t.Context(), r.old, r.proof, r.cp)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("AddCheckpoint: %v", err)
				}
				verifyCosignature(t, r.cp, cosig, e.key.verifier)
				if got, ok := knownSize(t, e.st, testOrigin); !ok || got != tc.wantSize {
					t.Errorf("recorded size = %d (%v), want %d", got, ok, tc.wantSize)
				}
				return
			}
			if cosig != nil {
				t.Errorf("refused request returned a cosignature %q", cosig)
			}
			var se *StatusError
			if !errors.As(err, &se) || !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want a *StatusError wrapping %v", err, tc.wantErr)
			}
			if se.Code != tc.wantCode || se.KnownSize != tc.wantKnown {
				t.Errorf("code %d, known size %d; want %d, %d", se.Code, se.KnownSize, tc.wantCode, tc.wantKnown)
			}
			if diff := cmp.Diff(before, e.st.snapshot(), cmp.AllowUnexported(memBlob{})); diff != "" {
				t.Errorf("a refused request changed the state (-before +after):\n%s", diff)
			}
		})
	}
}

func TestAddCheckpointKeyRotation(t *testing.T) {
	old := newTestLog(t, testOrigin, 100)
	rotated := newTestLog(t, testOrigin, 0)
	rotated.leaves, rotated.tree = old.leaves, old.tree
	key := newWitnessKey(t, "w")
	st := newMemStore()
	w := newTestWitness(t, key, st, old, rotated)
	cp := old.checkpoint(t, 50)
	if _, err := w.AddCheckpoint(t.Context(), 0, nil, cp); err != nil {
		t.Fatalf("checkpoint by the first key: %v", err)
	}
	cp = rotated.checkpoint(t, 100)
	cosig, err := w.AddCheckpoint(t.Context(), 50, old.proof(t, 50, 100), cp)
	if err != nil {
		t.Fatalf("checkpoint by the second key: %v", err)
	}
	verifyCosignature(t, cp, cosig, key.verifier)
}

// TestRestart checks that the record survives the Witness: a new one over
// the same store still refuses forks and stale sizes.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	e.advance(t, 100)
	w2 := newTestWitness(t, e.key, e.st, e.log)

	_, err := w2.AddCheckpoint(t.Context(), 100, nil, e.log.fork(t, 10, 100).checkpoint(t, 100))
	if !errors.Is(err, ErrFork) {
		t.Errorf("fork after restart: error = %v, want ErrFork", err)
	}
	_, err = w2.AddCheckpoint(t.Context(), 0, nil, e.log.checkpoint(t, 200))
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrStaleSize) || se.KnownSize != 100 {
		t.Errorf("old size 0 after restart: error = %v, want ErrStaleSize with known size 100", err)
	}
	cp := e.log.checkpoint(t, 200)
	cosig, err := w2.AddCheckpoint(t.Context(), 100, e.log.proof(t, 100, 200), cp)
	if err != nil {
		t.Fatalf("growth after restart: %v", err)
	}
	verifyCosignature(t, cp, cosig, e.key.verifier)
}

// TestConcurrentRequests sends competing checkpoints from the same old size
// at once: exactly one may be cosigned, the others must learn its size.
func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t)
	e.advance(t, 100)
	const n = 8
	type result struct {
		size uint64
		err  error
	}
	results := make(chan result, n)
	for i := range n {
		size := uint64(101 + i*20)
		p, cp := e.log.proof(t, 100, size), e.log.checkpoint(t, size)
		go func() {
			_, err := e.w.AddCheckpoint(t.Context(), 100, p, cp)
			results <- result{size, err}
		}()
	}
	var winner uint64
	var stale []result
	for range n {
		r := <-results
		switch {
		case r.err == nil && winner == 0:
			winner = r.size
		case errors.Is(r.err, ErrStaleSize):
			stale = append(stale, r)
		default:
			t.Errorf("size %d: %v", r.size, r.err)
		}
	}
	if winner == 0 || len(stale) != n-1 {
		t.Fatalf("winner size %d and %d stale refusals; want one winner and %d", winner, len(stale), n-1)
	}
	for _, r := range stale {
		if se := new(StatusError); !errors.As(r.err, &se) || se.KnownSize != winner {
			t.Errorf("size %d: %v, want known size %d", r.size, r.err, winner)
		}
	}
	if got, _ := knownSize(t, e.st, testOrigin); got != winner {
		t.Errorf("recorded size %d, want the winner's %d", got, winner)
	}
}

// TestStateChangedUnderRequest has another writer advance the log between
// the witness's read and write: the write must fail and the request be
// judged again against the new state.
func TestStateChangedUnderRequest(t *testing.T) {
	e := newEnv(t)
	e.advance(t, 100)
	other := newTestWitness(t, e.key, e.st, e.log)
	once := false
	e.st.beforePut = func(string) {
		if once {
			return
		}
		once = true
		if _, err := other.AddCheckpoint(t.Context(), 100, e.log.proof(t, 100, 250), e.log.checkpoint(t, 250)); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	}
	_, err := e.w.AddCheckpoint(t.Context(), 100, e.log.proof(t, 100, 200), e.log.checkpoint(t, 200))
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrStaleSize) || se.KnownSize != 250 {
		t.Fatalf("error = %v, want ErrStaleSize with known size 250", err)
	}
	if got, _ := knownSize(t, e.st, testOrigin); got != 250 {
		t.Errorf("recorded size %d, want 250: the losing request rolled the log back", got)
	}
}

func TestBusy(t *testing.T) {
	e := newEnv(t)
	e.advance(t, 100)
	name := stateBlobName(testOrigin)
	puts := 0
	// Another writer rewrites the same state before each of the witness's
	// writes.
	var rewrite func(string)
	rewrite = func(string) {
		puts++
		e.st.beforePut = nil
		defer func() { e.st.beforePut = rewrite }()
		data, v, err := e.st.GetBlob(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.PutBlob(t.Context(), name, data, v); err != nil {
			t.Fatal(err)
		}
	}
	e.st.beforePut = rewrite
	_, err := e.w.AddCheckpoint(t.Context(), 100, e.log.proof(t, 100, 200), e.log.checkpoint(t, 200))
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrBusy) || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("error = %v, want ErrBusy with 503", err)
	}
	if puts != maxAttempts {
		t.Errorf("%d attempts, want %d", puts, maxAttempts)
	}
}

func TestStoreErrors(t *testing.T) {
	t.Run("store down", func(t *testing.T) {
		e := newEnv(t)
		e.st.fail = errStoreDown
		_, err := e.w.AddCheckpoint(t.Context(), 0, nil, e.log.checkpoint(t, 100))
		if !errors.Is(err, errStoreDown) || errors.As(err, new(*StatusError)) {
			t.Errorf("error = %v, want the store's error and no StatusError", err)
		}
	})
	t.Run("corrupt state", func(t *testing.T) {
		for name, data := range map[string]string{
			"not JSON":     "garbage",
			"other origin": `{"origin":"x","size":5,"root":"` + b64(make([]byte, 32)) + `"}`,
			"short root":   `{"origin":"` + testOrigin + `","size":5,"root":"AAAA"}`,
		} {
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				if _, err := e.st.PutBlob(t.Context(), stateBlobName(testOrigin), []byte(data), 0); err != nil {
					t.Fatal(err)
				}
				cosig, err := e.w.AddCheckpoint(t.Context(), 0, nil, e.log.checkpoint(t, 100))
				if err == nil || errors.As(err, new(*StatusError)) || cosig != nil {
					t.Errorf("AddCheckpoint = %q, %v; want an internal error and no cosignature", cosig, err)
				}
			})
		}
	})
}

func TestNew(t *testing.T) {
	key := newWitnessKey(t, "witness.example/w1")
	l := newTestLog(t, testOrigin, 0)
	ownKeyAsLog, err := NewVerifier(key.vkey)
	if err != nil {
		t.Fatal(err)
	}
	badName := newWitnessKey(t, "w")
	badName.signer = namedSigner{badName.signer, "bad name"}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{testOrigin, l.verifier}}}, ""},
		{"no logs", Config{Signer: key.signer, State: newMemStore()}, ""},
		{"no signer", Config{State: newMemStore()}, "Signer is required"},
		{"bad signer name", Config{Signer: badName.signer, State: newMemStore()}, "invalid signer name"},
		{"no state", Config{Signer: key.signer}, "State is required"},
		{"empty origin", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{"", l.verifier}}}, "invalid origin"},
		{"multi-line origin", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{"a\nb", l.verifier}}}, "invalid origin"},
		{"no verifier", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{testOrigin, nil}}}, "Verifier is required"},
		{"key twice", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{testOrigin, l.verifier}, {testOrigin, l.verifier}}}, "listed twice"},
		{"witness key as log key", Config{Signer: key.signer, State: newMemStore(), Logs: []Log{{testOrigin, ownKeyAsLog}}}, "witness's own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil || w == nil {
					t.Fatalf("New = %v, %v", w, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// namedSigner overrides the name of a signer.
type namedSigner struct {
	note.Signer
	name string
}

func (s namedSigner) Name() string { return s.name }

func TestCosignatureUsesSignerClock(t *testing.T) {
	e := newEnv(t)
	cp := e.log.checkpoint(t, 10)
	cosig, err := e.w.AddCheckpoint(t.Context(), 0, nil, cp)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(append(bytes.Clone(cp), cosig...), note.VerifierList(e.key.verifier))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := b64decode(n.Sigs[0].Base64)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(binary.BigEndian.Uint64(sig[4:12])); got != testTime.Unix() {
		t.Errorf("cosignature timestamp %d, want %d", got, testTime.Unix())
	}
}

// TestSplitView has two instances of a log, with the same key, diverge
// after the cosigned size: the witness follows whichever reaches it first
// and refuses every checkpoint of the other view from then on.
func TestSplitView(t *testing.T) {
	e := newEnv(t)
	e.advance(t, 100)
	other := e.log.fork(t, 150, 300) // shares 150 leaves with e.log, then diverges
	cp := other.checkpoint(t, 300)
	if _, err := e.w.AddCheckpoint(t.Context(), 100, other.proof(t, 100, 300), cp); err != nil {
		t.Fatalf("the first view to arrive: %v", err)
	}
	for _, tc := range []struct {
		name    string
		old     uint64
		proof   [][]byte
		cp      []byte
		wantErr error
	}{
		{"same size", 300, nil, e.log.checkpoint(t, 300), ErrFork},
		{"smaller size from the common part", 300, nil, e.log.checkpoint(t, 150), ErrMalformed},
		{"smaller size, old size its own", 200, nil, e.log.checkpoint(t, 200), ErrStaleSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cosig, err := e.w.AddCheckpoint(t.Context(), tc.old, tc.proof, tc.cp)
			if !errors.Is(err, tc.wantErr) || cosig != nil {
				t.Errorf("AddCheckpoint = %q, %v; want %v", cosig, err, tc.wantErr)
			}
		})
	}
	e.log.grow(t, 50)
	cosig, err := e.w.AddCheckpoint(t.Context(), 300, e.log.proof(t, 300, 350), e.log.checkpoint(t, 350))
	if !errors.Is(err, ErrBadProof) || cosig != nil {
		t.Errorf("the other view growing: AddCheckpoint = %q, %v; want ErrBadProof", cosig, err)
	}
}

// TestRecords checks what the witness keeps and logs: the record is
// stamped with the injected clock, and a refused inconsistent checkpoint is
// logged in full, as possible evidence against the log.
func TestRecords(t *testing.T) {
	var logs bytes.Buffer
	l := newTestLog(t, testOrigin, 100)
	key := newWitnessKey(t, "w")
	st := newMemStore()
	w, err := New(Config{
		Signer: key.signer, State: st, Clock: fixedClock,
		Logs:   []Log{{testOrigin, l.verifier}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cp := l.checkpoint(t, 100)
	if _, err := w.AddCheckpoint(t.Context(), 0, nil, cp); err != nil {
		t.Fatal(err)
	}
	s, _, err := loadState(t.Context(), st, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	want := &logState{Origin: testOrigin, Size: 100, Root: l.root(t, 100), Checkpoint: string(cp), Updated: testTime.UTC()}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	fork := l.fork(t, 1, 100)
	if _, err := w.AddCheckpoint(t.Context(), 100, nil, fork.checkpoint(t, 100)); !errors.Is(err, ErrFork) {
		t.Fatalf("fork: %v", err)
	}
	if got := logs.String(); !strings.Contains(got, "refused an inconsistent checkpoint") || !strings.Contains(got, b64(fork.root(t, 100))) {
		t.Errorf("log lacks the refused checkpoint:\n%s", got)
	}
}
