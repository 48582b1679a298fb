package ledger

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/store"
)

// maxEntries caps the entries one call to [Ledger.Entries] returns.
const maxEntries = 1000

// InclusionProof returns the RFC 9162 inclusion proof of the entry at
// index in the tree of the given size. It returns [ErrOutOfRange] unless
// index < size ≤ the tree's size, and the store's error if it fails.
func (l *Ledger) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, errRange("inclusion proof of index %d in a tree of size %d", index, size)
	}
	if err := l.checkSize(ctx, size); err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, errRange("inclusion proof: %v", err)
	}
	return l.proof(ctx, nodes)
}

// ConsistencyProof returns the RFC 9162 consistency proof between the
// trees of sizes from and to: empty when from is 0 or equal to to. It
// returns [ErrOutOfRange] unless from ≤ to ≤ the tree's size, and the
// store's error if it fails.
func (l *Ledger) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, errRange("consistency proof from size %d to %d", from, to)
	}
	if err := l.checkSize(ctx, to); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, errRange("consistency proof: %v", err)
	}
	return l.proof(ctx, nodes)
}

// checkSize returns [ErrOutOfRange] if the tree is smaller than size.
func (l *Ledger) checkSize(ctx context.Context, size uint64) error {
	treeSize, err := l.treeSize(ctx, size)
	if err != nil {
		return err
	}
	if size > treeSize {
		return errRange("size %d is beyond the tree's %d", size, treeSize)
	}
	return nil
}

// proof returns the hashes of nodes, rehashed into a proof.
func (l *Ledger) proof(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := l.nodeHashes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("ledger: proof: %w", err)
	}
	return p, nil
}

// span is a run of stored hashes at one level: [start, end).
type span struct {
	level      uint
	start, end uint64
	hashes     [][]byte // filled by fetch
}

// mergeGap is the largest gap between two spans at one level that are
// fetched together: a few extra hashes cost less than another query.
const mergeGap = 16

// nodeHashes returns the hashes of the complete subtrees ids, from the
// node cache or computed from the stored hashes at the closest stored
// level below each, with few queries.
func (l *Ledger) nodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	var missing []int // indexes into ids
	for i, id := range ids {
		if out[i] = l.nodes.get(id); out[i] == nil {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	// The stored hashes each missing node needs, merged into few spans.
	need := make([]span, len(missing))
	for j, i := range missing {
		id := ids[i]
		base := id.Level - id.Level%nodeLevelStep
		shift := id.Level - base
		need[j] = span{level: base, start: id.Index << shift, end: (id.Index + 1) << shift}
	}
	fetch := slices.Clone(need)
	slices.SortFunc(fetch, func(a, b span) int {
		if a.level != b.level {
			return int(a.level) - int(b.level)
		}
		return cmpUint(a.start, b.start)
	})
	merged := fetch[:0]
	for _, s := range fetch {
		if n := len(merged); n > 0 && merged[n-1].level == s.level && s.start <= merged[n-1].end+mergeGap {
			merged[n-1].end = max(merged[n-1].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	for i := range merged {
		s := &merged[i]
		var err error
		s.hashes, err = l.store.LedgerHashes(ctx, int(s.level), int64(s.start), int64(s.end))
		if err != nil {
			return nil, fmt.Errorf("ledger: node hashes: %w", err)
		}
	}
	for j, n := range need {
		k, _ := slices.BinarySearchFunc(merged, n, func(m, n span) int {
			if m.level != n.level {
				return int(m.level) - int(n.level)
			}
			if m.end <= n.start {
				return -1
			}
			if m.start > n.start {
				return 1
			}
			return 0
		})
		m := merged[k]
		i := missing[j]
		out[i] = foldHashes(m.hashes[n.start-m.start : n.end-m.start])
		l.nodes.put(ids[i], out[i])
	}
	return out, nil
}

// Bounds of the node cache.
const (
	// cacheMinLevel is the lowest level cached: about one node in 128
	// entries is at this level or above.
	cacheMinLevel = 8
	// cacheMaxNodes caps the cache (about 100 bytes each); it holds the
	// cached levels of a tree of 16 million entries.
	cacheMaxNodes = 1 << 17
)

// nodeCache keeps the hashes of complete subtrees at cacheMinLevel and
// above, which never change once complete, so that a proof reads only
// the lowest levels from the store.
type nodeCache struct {
	mu sync.Mutex
	m  map[compact.NodeID][]byte
}

// get returns the cached hash of id, or nil.
func (c *nodeCache) get(id compact.NodeID) []byte {
	if id.Level < cacheMinLevel {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// put caches the hash of id if its level is cached; a full cache is
// emptied first.
func (c *nodeCache) put(id compact.NodeID, hash []byte) {
	if id.Level < cacheMinLevel {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= cacheMaxNodes {
		c.m = make(map[compact.NodeID][]byte)
	}
	c.m[id] = hash
}

// foldHashes returns the root of the perfect subtree whose nodes at some
// level are hashes (a power of two of them).
func foldHashes(hashes [][]byte) []byte {
	level := slices.Clone(hashes)
	for len(level) > 1 {
		for i := range len(level) / 2 {
			level[i] = rfc6962.DefaultHasher.HashChildren(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return level[0]
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Entries returns the entries with indexes in [start, end) as stored,
// fewer if end is beyond the tree or more than 1000 past start. It returns
// [ErrOutOfRange] if start is not below both end and the tree's size, and
// the store's error if it fails. It does not verify what it returns: that
// is for the reader, with [VerifyLog].
func (l *Ledger) Entries(ctx context.Context, start, end uint64) ([]Entry, error) {
	if start >= end {
		return nil, errRange("entries [%d, %d)", start, end)
	}
	size, err := l.treeSize(ctx, end)
	if err != nil {
		return nil, err
	}
	if start >= size {
		return nil, errRange("entry %d is beyond the tree's size %d", start, size)
	}
	end = min(end, size, start+maxEntries)
	rows, err := l.store.ListEvents(ctx, store.EventFilter{After: int64(start) - 1, Limit: int(end - start)})
	if err != nil {
		return nil, fmt.Errorf("ledger: entries: %w", err)
	}
	out := make([]Entry, 0, len(rows))
	for _, r := range rows {
		if uint64(r.Index) >= end {
			break
		}
		out = append(out, Entry{Index: uint64(r.Index), Data: r.Body, LeafHash: r.LeafHash})
	}
	return out, nil
}
