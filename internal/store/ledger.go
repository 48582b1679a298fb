package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LedgerState is the persisted state of the ledger's Merkle tree. The
// store keeps it as given; package ledger owns its meaning.
type LedgerState struct {
	// Size is the number of events the tree covers: those with an Index
	// below Size.
	Size int64
	// Root is the tree's root hash; empty while Size is 0.
	Root []byte
	// Range is the ledger's encoding of its compact range; opaque to the
	// store.
	Range []byte
	// Events is the number of rows in the event log, which is Size unless
	// [Store.AppendEvent] added rows the tree does not cover yet. It is
	// read by [Store.LedgerState] and ignored by [Store.AppendLedger].
	Events int64
}

// LedgerNode is the hash of a complete subtree of the ledger's Merkle
// tree: the one at Level (0 is a leaf) with horizontal index Index.
type LedgerNode struct {
	Level int
	Index int64
	Hash  []byte
}

// LedgerAppend is one atomic extension of the ledger, for
// [Store.AppendLedger].
type LedgerAppend struct {
	// PrevSize is the tree size the caller extends; the append fails with
	// [ErrConflict] if the stored state's size is not PrevSize.
	PrevSize int64
	// Next is the state after the append (Next.Events is ignored).
	Next LedgerState
	// Adopted are events already stored beyond PrevSize without a leaf
	// hash (written by AppendEvent) that the tree now covers: their Body
	// and LeafHash replace the stored ones. They come first, in Index
	// order from PrevSize.
	Adopted []Event
	// Events are the new events, with Index and LeafHash set, in Index
	// order right after the adopted ones.
	Events []Event
	// Nodes are the complete-subtree hashes the append creates.
	Nodes []LedgerNode
}

// Checkpoint is a signed checkpoint of the ledger, as published.
type Checkpoint struct {
	Size int64
	Note []byte // the signed note text
	Time time.Time
}

// Limits of the ledger methods.
const (
	// maxHashRange caps the hashes one LedgerHashes call returns.
	maxHashRange = 1 << 16
	// insertChunk is the number of rows one multi-row INSERT writes at
	// most; a power of two, it keeps the statement's parameters well under
	// SQLite's limit of 32766.
	insertChunk = 256
)

// LedgerState returns the persisted state of the ledger's Merkle tree
// (size 0 and empty hashes before the first append).
func (q queries) LedgerState(ctx context.Context) (LedgerState, error) {
	var st LedgerState
	err := q.queryRowCached(ctx, `SELECT s.size, s.root, s.compact_range,
		(SELECT coalesce(max(last_idx), -1) + 1 FROM ledger_bundles) FROM ledger_state s WHERE s.id = 1`).
		Scan(&st.Size, bytesCol{&st.Root}, bytesCol{&st.Range}, &st.Events)
	if err != nil {
		return LedgerState{}, fmt.Errorf("store: ledger state: %w", err)
	}
	return st, nil
}

// AppendLedger writes a in one atomic step: it moves the tree state from
// a.PrevSize to a.Next, rewrites the adopted events, inserts the new
// events with their leaf hashes, advances the event counter past them and
// stores the new nodes.
//
// It returns [ErrConflict] if the stored tree size is not a.PrevSize (another
// writer got there first: reload the state and retry), if an adopted event
// is missing or already has a leaf hash, or if the event log holds rows
// beyond the adopted ones (written by AppendEvent since the state was
// read). It also fails if indexes are not contiguous from a.PrevSize to
// a.Next.Size. On a [Tx] it runs under a savepoint.
func (q queries) AppendLedger(ctx context.Context, a LedgerAppend) error {
	if err := a.check(); err != nil {
		return err
	}
	var keys *segmentKeys
	err := q.atomic(ctx, func(q queries) (err error) {
		keys, err = q.writeLedger(ctx, a, -1)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append ledger at %d: %w", a.PrevSize, err)
	}
	q.remember(keys)
	return nil
}

// ExtendLedger locks the ledger's state, reads it, and writes the append
// that build returns for it, as [Store.AppendLedger] does, all in one
// transaction (on a [Tx], under a savepoint). Writers of the same
// database wait for each other at the lock, so unlike a plain
// AppendLedger after LedgerState, the append cannot lose a race unless the
// event log holds rows written by AppendEvent (st.Events > st.Size), which
// build must then adopt or refuse. build runs while the lock is held and
// should be quick; its error is returned unchanged. ExtendLedger returns
// the errors of AppendLedger otherwise.
func (q queries) ExtendLedger(ctx context.Context, build func(st LedgerState) (LedgerAppend, error)) error {
	var buildErr error
	var keys *segmentKeys
	err := q.atomic(ctx, func(q queries) error {
		// On PostgreSQL a write that changes nothing takes the row lock;
		// a SQLite transaction holds the database's write lock already.
		if q.d == postgresDialect {
			if _, err := q.execCached(ctx, `UPDATE ledger_state SET size = size WHERE id = 1`); err != nil {
				return fmt.Errorf("lock state: %w", err)
			}
		}
		st, err := q.LedgerState(ctx)
		if err != nil {
			return err
		}
		a, err := build(st)
		if err != nil {
			buildErr = err
			return err
		}
		if err := a.check(); err != nil {
			return err
		}
		keys, err = q.writeLedger(ctx, a, st.Events)
		return err
	})
	if buildErr != nil {
		return buildErr
	}
	if err != nil {
		return fmt.Errorf("store: extend ledger: %w", err)
	}
	q.remember(keys)
	return nil
}

// check validates the sizes and indexes of a.
func (a *LedgerAppend) check() error {
	n := int64(len(a.Adopted) + len(a.Events))
	if a.Next.Size != a.PrevSize+n {
		return fmt.Errorf("store: append ledger: size %d + %d events is not %d", a.PrevSize, n, a.Next.Size)
	}
	for i, ev := range append(a.Adopted[:len(a.Adopted):len(a.Adopted)], a.Events...) {
		if ev.Index != a.PrevSize+int64(i) {
			return fmt.Errorf("store: append ledger: event %d has Index %d, want %d", i, ev.Index, a.PrevSize+int64(i))
		}
	}
	return nil
}

// writeLedger does the writes of AppendLedger; it must run atomically.
// events is the number of events stored, read under the lock, or -1 if
// writeLedger must read it. It returns what insertEvents returns.
func (q queries) writeLedger(ctx context.Context, a LedgerAppend, events int64) (*segmentKeys, error) {
	// The state row is written first: on PostgreSQL its row lock
	// serialises writers, and a writer that waited finds the size
	// changed and stops here.
	ok, err := q.execOneCached(ctx, `UPDATE ledger_state SET size = ?, root = ?, compact_range = ? WHERE id = 1 AND size = ?`,
		a.Next.Size, bytesArg(a.Next.Root), bytesArg(a.Next.Range), a.PrevSize)
	if err != nil {
		return nil, fmt.Errorf("update state: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("tree size is no longer %d: %w", a.PrevSize, ErrConflict)
	}
	if err := q.adoptEvents(ctx, a.Adopted); err != nil {
		return nil, err
	}
	if events < 0 {
		if events, err = q.eventCount(ctx); err != nil {
			return nil, err
		}
	}
	if events != a.PrevSize+int64(len(a.Adopted)) {
		return nil, fmt.Errorf("events were appended outside the ledger: %w", ErrConflict)
	}
	keys, err := q.insertEvents(ctx, a.Events)
	if err != nil {
		return nil, err
	}
	return keys, q.insertNodes(ctx, a.Nodes)
}

// eventCount returns the number of stored events: one past the last
// index, as indexes are contiguous from 0.
func (q queries) eventCount(ctx context.Context) (int64, error) {
	var n int64
	err := q.queryRowCached(ctx, `SELECT coalesce(max(last_idx), -1) + 1 FROM ledger_bundles`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// insertEvents stores evs, which have contiguous indexes and follow the
// stored ones, as bundles in multi-row INSERTs, and indexes the segments
// they complete. It returns the keys of the segment still being filled,
// for [queries.remember] once the transaction commits.
func (q queries) insertEvents(ctx context.Context, evs []Event) (*segmentKeys, error) {
	bundles, err := makeBundles(evs)
	if err != nil {
		return nil, err
	}
	err = insertRows(ctx, q, `INSERT INTO ledger_bundles (last_idx, first_idx, min_time, max_time, leaf_hashes, events) VALUES `,
		6, len(bundles), func(i int, args []any) []any {
			b := &bundles[i]
			return append(args, b.last, b.first, b.minTime, b.maxTime, bytesArg(b.leafHashes), b.events)
		})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	if len(evs) == 0 {
		return nil, nil
	}
	return q.indexSegments(ctx, evs)
}

// adoptEvents gives the events stored by AppendEvent, each alone in its
// bundle, the bodies and leaf hashes of evs.
func (q queries) adoptEvents(ctx context.Context, evs []Event) error {
	for _, ev := range evs {
		if len(ev.LeafHash) != leafHashSize {
			return fmt.Errorf("adopt event %d: leaf hash must be %d bytes", ev.Index, leafHashSize)
		}
		var data []byte
		err := q.queryRow(ctx, `SELECT events FROM ledger_bundles WHERE last_idx = ? AND first_idx = last_idx AND length(leaf_hashes) = 0`,
			ev.Index).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("adopt event %d: missing or already hashed: %w", ev.Index, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("adopt event %d: %w", ev.Index, err)
		}
		stored, err := DecodeEvents(ev.Index, data)
		if err != nil || len(stored) != 1 {
			return fmt.Errorf("adopt event %d: %w", ev.Index, errors.Join(errBundle, err))
		}
		stored[0].Body = ev.Body
		if _, err := q.exec(ctx, `UPDATE ledger_bundles SET events = ?, leaf_hashes = ? WHERE last_idx = ?`,
			EncodeEvents(stored), ev.LeafHash, ev.Index); err != nil {
			return fmt.Errorf("adopt event %d: %w", ev.Index, err)
		}
	}
	return nil
}

// insertNodes inserts nodes with multi-row INSERTs.
func (q queries) insertNodes(ctx context.Context, nodes []LedgerNode) error {
	return insertRows(ctx, q, `INSERT INTO ledger_nodes (level, idx, hash) VALUES `, 3, len(nodes),
		func(i int, args []any) []any {
			return append(args, nodes[i].Level, nodes[i].Index, bytesArg(nodes[i].Hash))
		})
}

// insertRows runs prefix followed by the value tuples of n rows of cols
// columns; row appends row i's arguments. Rows go insertChunk per
// statement, and the rest in statements of decreasing powers of two, so
// that every statement is one of few and its prepared form is cached.
func insertRows(ctx context.Context, q queries, prefix string, cols, n int, row func(i int, args []any) []any) error {
	args := make([]any, 0, min(n, insertChunk)*cols)
	for start := 0; start < n; {
		size := insertChunk
		for size > n-start {
			size /= 2
		}
		args = args[:0]
		for i := start; i < start+size; i++ {
			args = row(i, args)
		}
		if _, err := q.execCached(ctx, valuesStatement(prefix, cols, size), args...); err != nil {
			if isUniqueViolation(err) {
				err = fmt.Errorf("%w: %w", ErrConflict, err)
			}
			return fmt.Errorf("insert: %w", err)
		}
		start += size
	}
	return nil
}

// valuesStatement returns prefix followed by rows tuples of cols
// placeholders.
func valuesStatement(prefix string, cols, rows int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(len(prefix) + rows*(len(tuple)+2))
	b.WriteString(prefix)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// LedgerHashes returns the hashes at level of the ledger's Merkle tree
// with horizontal indexes in [start, end), in order: leaf hashes of events
// at level 0, stored node hashes above. It returns [ErrNotFound] if any of
// them is not stored, and an error if the range is empty, negative or
// longer than 65536.
func (q queries) LedgerHashes(ctx context.Context, level int, start, end int64) ([][]byte, error) {
	if start < 0 || end <= start || end-start > maxHashRange {
		return nil, fmt.Errorf("store: ledger hashes: bad range [%d, %d)", start, end)
	}
	if level == 0 {
		return q.leafHashes(ctx, start, end)
	}
	rows, err := q.queryCached(ctx, `SELECT idx, hash FROM ledger_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx`,
		level, start, end)
	if err != nil {
		return nil, fmt.Errorf("store: ledger hashes at level %d: %w", level, err)
	}
	defer rows.Close()
	out := make([][]byte, 0, end-start)
	for rows.Next() {
		var idx int64
		var h []byte
		if err := rows.Scan(&idx, bytesCol{&h}); err != nil {
			return nil, fmt.Errorf("store: ledger hashes at level %d: %w", level, err)
		}
		if want := start + int64(len(out)); idx != want || h == nil {
			return nil, fmt.Errorf("store: ledger hash (%d, %d): %w", level, want, ErrNotFound)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: ledger hashes at level %d: %w", level, err)
	}
	if int64(len(out)) != end-start {
		return nil, fmt.Errorf("store: ledger hash (%d, %d): %w", level, start+int64(len(out)), ErrNotFound)
	}
	return out, nil
}

// leafHashes returns the leaf hashes of the events with indexes in
// [start, end), read from their bundles.
func (q queries) leafHashes(ctx context.Context, start, end int64) ([][]byte, error) {
	rows, err := q.queryCached(ctx, `SELECT first_idx, last_idx, leaf_hashes FROM ledger_bundles
		WHERE last_idx >= ? AND last_idx < ? AND first_idx < ? ORDER BY last_idx`, start, end+maxBundleEvents, end)
	if err != nil {
		return nil, fmt.Errorf("store: leaf hashes: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, end-start)
	for rows.Next() {
		var first, last int64
		var hashes []byte
		if err := rows.Scan(&first, &last, bytesCol{&hashes}); err != nil {
			return nil, fmt.Errorf("store: leaf hashes: %w", err)
		}
		next := start + int64(len(out))
		if first > next || int64(len(hashes)) != (last-first+1)*leafHashSize {
			return nil, fmt.Errorf("store: leaf hash of event %d: %w", next, ErrNotFound)
		}
		for i := max(next, first); i <= last && i < end; i++ {
			off := (i - first) * leafHashSize
			out = append(out, hashes[off:off+leafHashSize:off+leafHashSize])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: leaf hashes: %w", err)
	}
	if int64(len(out)) != end-start {
		return nil, fmt.Errorf("store: leaf hash of event %d: %w", start+int64(len(out)), ErrNotFound)
	}
	return out, nil
}

// AddCheckpoint stores a published checkpoint. Checkpoints are stored in
// increasing size: it returns [ErrConflict] if one of the same or a larger
// size is stored already. It takes the ledger state's lock, so that
// concurrent publishers are ordered.
func (q queries) AddCheckpoint(ctx context.Context, cp Checkpoint) error {
	err := q.atomic(ctx, func(q queries) error {
		if _, err := q.execCached(ctx, `UPDATE ledger_state SET size = size WHERE id = 1`); err != nil {
			return fmt.Errorf("lock state: %w", err)
		}
		ok, err := q.execOne(ctx, `INSERT INTO ledger_checkpoints (size, note, time)
			SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM ledger_checkpoints WHERE size >= ?)`,
			cp.Size, bytesArg(cp.Note), timeArg(cp.Time), cp.Size)
		if err == nil && !ok {
			err = fmt.Errorf("a checkpoint of size %d or larger is stored: %w", cp.Size, ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add checkpoint at size %d: %w", cp.Size, err)
	}
	return nil
}

// LatestCheckpoint returns the stored checkpoint of the largest size, or
// [ErrNotFound] if there is none.
func (q queries) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	err := q.queryRow(ctx, `SELECT size, note, time FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`).
		Scan(&cp.Size, bytesCol{&cp.Note}, timeCol{&cp.Time})
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("store: latest checkpoint: %w", err)
	}
	return cp, nil
}

// ListCheckpoints returns the stored checkpoints of size greater than
// afterSize, smallest first, at most limit of them (100 when zero or
// negative, never more than 1000).
func (q queries) ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]Checkpoint, error) {
	rows, err := q.query(ctx, `SELECT size, note, time FROM ledger_checkpoints WHERE size > ? ORDER BY size LIMIT ?`,
		afterSize, pageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var cp Checkpoint
		if err := rows.Scan(&cp.Size, bytesCol{&cp.Note}, timeCol{&cp.Time}); err != nil {
			return nil, fmt.Errorf("store: list checkpoints: %w", err)
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list checkpoints: %w", err)
	}
	return out, nil
}
