package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// The key index of a segment (see bundle.go) is written by the commit
// that completes the segment. Reading the segment's 4,096 events back to
// collect their keys took several milliseconds, during which every
// appender waited, so a Store remembers the keys of the events its own
// commits wrote to the segment being filled (segmentMemo) and the commit
// that completes it writes the index from memory. What a Store remembers
// is only used when it covers the segment from its start up to the first
// event being appended: if another process (a PostgreSQL replica) or a
// transaction of [Store.Tx] wrote events in between, the memo ends
// before them and the segment is read back as before. The keys of a
// stored event never change (adoption rewrites only its body), so a memo
// that matches is exact.

// segmentKeys are the keys of the stored events with indexes in
// [segment·segmentSize, end), as the chunks that successive commits
// added; a key may appear in several chunks. A segmentKeys is never
// modified once built: with appends a new one.
type segmentKeys struct {
	segment, end int64
	chunks       [][]string
}

// with returns k extended by the events evs, which follow k.end in the
// same segment.
func (k *segmentKeys) with(evs []Event) *segmentKeys {
	type key struct{ kind, v string }
	seen := make(map[key]struct{}, 2*len(evs))
	chunk := make([]string, 0, 2*len(evs))
	for i := range evs {
		ev := &evs[i]
		for _, kv := range [...]key{{keyType, ev.Type}, {keyActor, ev.Actor}, {keyTarget, ev.Target}} {
			if kv.v == "" {
				continue
			}
			if _, ok := seen[kv]; !ok {
				seen[kv] = struct{}{}
				chunk = append(chunk, kv.kind+kv.v)
			}
		}
	}
	return &segmentKeys{segment: k.segment, end: k.end + int64(len(evs)), chunks: append(slices.Clip(k.chunks), chunk)}
}

// sorted returns the distinct keys of k in order.
func (k *segmentKeys) sorted() []string {
	seen := make(map[string]struct{})
	var keys []string
	for _, c := range k.chunks {
		for _, key := range c {
			if _, ok := seen[key]; !ok {
				seen[key] = struct{}{}
				keys = append(keys, key)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// segmentMemo holds what a Store remembers of the segment being filled.
// It is shared by the Store and its transactions, and only updated after
// a commit of the Store's own.
type segmentMemo struct {
	mu   sync.Mutex
	keys *segmentKeys // nil when unknown
}

// from returns the memo's keys if they cover the segment of first from its
// start up to first, empty keys if first starts a segment, and nil
// otherwise.
func (m *segmentMemo) from(first int64) *segmentKeys {
	if first%segmentSize == 0 {
		return &segmentKeys{segment: first / segmentSize, end: first}
	}
	if m == nil {
		return nil
	}
	m.mu.Lock()
	k := m.keys
	m.mu.Unlock()
	if k == nil || k.segment != first/segmentSize || k.end != first {
		return nil
	}
	return k
}

// remember records k, the keys of the segment being filled after a
// commit, unless the memo knows of a later commit already (commits may
// report out of order).
func (q queries) remember(k *segmentKeys) {
	if q.tx != nil || q.memo == nil || k == nil {
		return
	}
	q.memo.mu.Lock()
	if q.memo.keys == nil || q.memo.keys.end < k.end {
		q.memo.keys = k
	}
	q.memo.mu.Unlock()
}

// indexSegments writes the key index of every segment that evs, the
// events being appended, complete, and returns the keys of the segment
// still being filled after them for [queries.remember] (nil when not
// known). evs must be non-empty, with contiguous indexes following the
// stored events.
func (q queries) indexSegments(ctx context.Context, evs []Event) (*segmentKeys, error) {
	first := evs[0].Index
	after := first + int64(len(evs))
	known := q.memo.from(first)
	for s := first / segmentSize; s*segmentSize < after; s++ {
		lo, hi := max(first, s*segmentSize), min(after, (s+1)*segmentSize)
		if known == nil && lo == s*segmentSize {
			known = &segmentKeys{segment: s, end: lo}
		}
		if known != nil {
			known = known.with(evs[lo-first : hi-first])
		}
		if hi < (s+1)*segmentSize {
			break // s is still being filled
		}
		var err error
		if known != nil {
			err = q.writeSegmentKeys(ctx, s, known.sorted())
		} else {
			err = q.indexSegment(ctx, s)
		}
		if err != nil {
			return nil, fmt.Errorf("index segment %d: %w", s, err)
		}
		known = &segmentKeys{segment: s + 1, end: hi}
	}
	return known, nil
}

// indexSegment reads the events of segment s back and writes its key
// index.
func (q queries) indexSegment(ctx context.Context, s int64) error {
	var types, actors, targets = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	note := func(m map[string]struct{}, v []byte) {
		if _, ok := m[string(v)]; !ok && len(v) > 0 {
			m[string(v)] = struct{}{}
		}
	}
	_, _, err := q.scanBundles(ctx, `SELECT first_idx, last_idx, leaf_hashes, events FROM ledger_bundles
		WHERE last_idx >= ? AND last_idx < ? ORDER BY last_idx`, []any{s * segmentSize, (s + 1) * segmentSize},
		func(r *rawEvent) bool {
			note(types, r.typ)
			note(actors, r.actor)
			note(targets, r.target)
			return false // nothing to decode
		}, nil)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(types)+len(actors)+len(targets))
	for _, k := range [...]struct {
		kind string
		m    map[string]struct{}
	}{{keyType, types}, {keyActor, actors}, {keyTarget, targets}} {
		for v := range k.m {
			keys = append(keys, k.kind+v)
		}
	}
	slices.Sort(keys)
	return q.writeSegmentKeys(ctx, s, keys)
}

// writeSegmentKeys writes one row (s, key) for each of keys, which are
// distinct and in order.
func (q queries) writeSegmentKeys(ctx context.Context, s int64, keys []string) error {
	return insertRows(ctx, q, `INSERT INTO ledger_keys (segment, key) VALUES `, 2, len(keys),
		func(i int, args []any) []any { return append(args, s, keys[i]) })
}
