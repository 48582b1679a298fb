package ledger_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"

	"github.com/kith-dev/kith/internal/ledger"
)

// The proof vectors below are copied from
// github.com/transparency-dev/merkle v0.0.2, proof/verify_test.go
// (inclusionProofs, consistencyProofs), where they are unexported. They
// are for the tree of testonly.LeafInputs(). As there, inclusion vectors
// number leaves from 1.

type inclusionVector struct {
	leaf, size uint64
	proof      [][]byte
}

type consistencyVector struct {
	size1, size2 uint64
	proof        [][]byte
}

func dh(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	inclusionVectors = []inclusionVector{
		{1, 1, nil},
		{1, 8, [][]byte{
			dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{6, 8, [][]byte{
			dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
			dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{3, 3, [][]byte{
			dh("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
		}},
		{2, 5, [][]byte{
			dh("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
			dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
	}

	consistencyVectors = []consistencyVector{
		{1, 1, nil},
		{1, 8, [][]byte{
			dh("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
			dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			dh("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
		}},
		{6, 8, [][]byte{
			dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			dh("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
			dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
		{2, 5, [][]byte{
			dh("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
			dh("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
		}},
		{6, 7, [][]byte{
			dh("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
			dh("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
			dh("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
		}},
	}
)

// vectorLedger returns a ledger holding testonly.LeafInputs() as raw
// entries; after each append it checks the published root against
// testonly.RootHashes().
func vectorLedger(t *testing.T, url func(testing.TB) string) *ledger.Ledger {
	t.Helper()
	l := newLedger(t, openStore(t, url(t)), newSigner(t), nil)
	roots := testonly.RootHashes()
	for i, leaf := range testonly.LeafInputs() {
		index, err := l.AppendRawForTest(t.Context(), leaf)
		if err != nil {
			t.Fatalf("append leaf %d: %v", i, err)
		}
		if index != uint64(i) {
			t.Fatalf("leaf %d appended at index %d", i, index)
		}
		cp := mustPublish(t, l)
		if cp.Size != uint64(i+1) || !cmp.Equal(cp.Root, roots[i+1]) {
			t.Errorf("after leaf %d: checkpoint size %d root %x, want size %d root %x", i, cp.Size, cp.Root, i+1, roots[i+1])
		}
	}
	return l
}

func TestPublishedVectors(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			l := vectorLedger(t, be.url)
			for _, v := range inclusionVectors {
				t.Run(fmt.Sprintf("inclusion %d in %d", v.leaf-1, v.size), func(t *testing.T) {
					got, err := l.InclusionProof(t.Context(), v.leaf-1, v.size)
					if err != nil {
						t.Fatalf("InclusionProof: %v", err)
					}
					if d := cmp.Diff(v.proof, got, cmp.Comparer(emptyEqual)); d != "" {
						t.Errorf("proof mismatch (-want +got):\n%s", d)
					}
				})
			}
			for _, v := range consistencyVectors {
				t.Run(fmt.Sprintf("consistency %d to %d", v.size1, v.size2), func(t *testing.T) {
					got, err := l.ConsistencyProof(t.Context(), v.size1, v.size2)
					if err != nil {
						t.Fatalf("ConsistencyProof: %v", err)
					}
					if d := cmp.Diff(v.proof, got, cmp.Comparer(emptyEqual)); d != "" {
						t.Errorf("proof mismatch (-want +got):\n%s", d)
					}
				})
			}
		})
	}
}

// emptyEqual compares proofs treating nil and empty alike.
func emptyEqual(a, b [][]byte) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
}

func TestProofErrors(t *testing.T) {
	l := vectorLedger(t, sqliteURL)
	tests := []struct {
		name string
		fn   func() error
	}{
		{"inclusion index = size", func() error { _, err := l.InclusionProof(t.Context(), 3, 3); return err }},
		{"inclusion size beyond tree", func() error { _, err := l.InclusionProof(t.Context(), 0, 9); return err }},
		{"consistency reversed", func() error { _, err := l.ConsistencyProof(t.Context(), 5, 4); return err }},
		{"consistency beyond tree", func() error { _, err := l.ConsistencyProof(t.Context(), 4, 9); return err }},
		{"entries beyond tree", func() error { _, err := l.Entries(t.Context(), 8, 10); return err }},
		{"entries empty range", func() error { _, err := l.Entries(t.Context(), 3, 3); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.fn(); !errors.Is(err, ledger.ErrOutOfRange) {
				t.Errorf("error = %v, want ErrOutOfRange", err)
			}
		})
	}
}

// TestRandomProofs checks inclusion and consistency proofs at every tree
// size up to 300 against the reference tree of package testonly and
// proof.VerifyInclusion / proof.VerifyConsistency.
func TestRandomProofs(t *testing.T) {
	const n = 300
	l := newLedger(t, openStore(t, sqliteURL(t)), newSigner(t), nil)
	ref := testonly.New(rfc6962.DefaultHasher)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		leaf := fmt.Appendf(nil, "leaf %d %x", i, rng.Uint64())
		if _, err := l.AppendRawForTest(t.Context(), leaf); err != nil {
			t.Fatal(err)
		}
		ref.AppendData(leaf)
	}
	h := rfc6962.DefaultHasher
	for size := uint64(1); size <= n; size++ {
		root := ref.HashAt(size)
		// Every index for small trees, a sample for larger ones.
		indexes := []uint64{0, size - 1, rng.Uint64N(size), rng.Uint64N(size)}
		if size <= 32 {
			indexes = indexes[:0]
			for i := range size {
				indexes = append(indexes, i)
			}
		}
		for _, i := range indexes {
			p, err := l.InclusionProof(t.Context(), i, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
			}
			if err := proof.VerifyInclusion(h, i, size, ref.LeafHash(i), p, root); err != nil {
				t.Errorf("InclusionProof(%d, %d) does not verify: %v", i, size, err)
			}
			want, _ := ref.InclusionProof(i, size)
			if !emptyEqual(want, p) {
				t.Errorf("InclusionProof(%d, %d) differs from the reference", i, size)
			}
		}
		for _, from := range []uint64{0, 1, size, rng.Uint64N(size + 1), rng.Uint64N(size + 1)} {
			p, err := l.ConsistencyProof(t.Context(), from, size)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", from, size, err)
			}
			if from > 0 {
				if err := proof.VerifyConsistency(h, from, size, p, ref.HashAt(from), root); err != nil {
					t.Errorf("ConsistencyProof(%d, %d) does not verify: %v", from, size, err)
				}
			}
			want, _ := ref.ConsistencyProof(from, size)
			if !emptyEqual(want, p) {
				t.Errorf("ConsistencyProof(%d, %d) differs from the reference", from, size)
			}
		}
	}
}
