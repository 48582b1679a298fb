package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The event log is stored in bundles: one row of ledger_bundles holds up
// to maxBundleEvents consecutive events, in the layout of EncodeEvents,
// with their leaf hashes beside them. A batch of the ledger's sequencer
// thus costs one B-tree insert per bundle instead of one row and four
// index entries per event, which is what bounded how fast SQLite appends
// (see BENCHMARKS.md).
//
// Audit queries by type, actor or target go through ledger_keys, a
// segment index: the bundles whose last_idx falls in [s·segmentSize,
// (s+1)·segmentSize) form segment s, and once the log holds every event
// below (s+1)·segmentSize the commit that completes it writes one row
// (s, key) for each distinct key of its events. Rows are appended in key
// order at the end of the index, so a busy mesh with thousands of callers
// does not dirty a page of the index per caller and commit; a query
// checks the segments in order with point lookups and decodes the
// bundles of those that hold its key, and scans the segment not yet
// complete. Time ranges use each bundle's min/max time.
const (
	// maxBundleEvents caps the events of one bundle, so that reading one
	// event decodes at most this many.
	maxBundleEvents = 256
	// maxBundleBytes ends a bundle once its encoded events pass it (one
	// event may pass it alone).
	maxBundleBytes = 256 << 10
	// segmentSize is the number of event indexes of one segment of the
	// key index.
	segmentSize = 4096
	// bundleFormat is the first byte of EncodeEvents' layout.
	bundleFormat = 1
	// leafHashSize is the size of a stored leaf hash.
	leafHashSize = 32
)

// Key kinds of ledger_keys: a key is its kind followed by the value.
const (
	keyType   = "y:"
	keyActor  = "a:"
	keyTarget = "t:"
)

// zeroTime encodes the zero time.Time in EncodeEvents' layout.
const zeroTime = math.MinInt64

// EncodeEvents returns the events column of a ledger bundle holding evs:
// a format byte (1), then for each event its Time as a signed varint of
// microseconds since the Unix epoch (math.MinInt64 for the zero time),
// and its Type, Outcome, Actor, Target and Body, each as a uvarint length
// followed by the bytes. Indexes are not stored: the bundle's first_idx
// column gives the first, and the rest follow. It is exported for tools
// and tests that read or alter the database directly.
func EncodeEvents(evs []Event) []byte {
	n := 1
	for i := range evs {
		n += encodedSize(&evs[i])
	}
	return appendEvents(make([]byte, 0, n), evs)
}

// encodedSize bounds the size of ev in EncodeEvents' layout.
func encodedSize(ev *Event) int {
	return binary.MaxVarintLen64*6 + len(ev.Type) + len(ev.Outcome) + len(ev.Actor) + len(ev.Target) + len(ev.Body)
}

// appendEvents appends the encoding of evs to b.
func appendEvents(b []byte, evs []Event) []byte {
	b = append(b, bundleFormat)
	for i := range evs {
		ev := &evs[i]
		t := int64(zeroTime)
		if !ev.Time.IsZero() {
			t = ev.Time.UnixMicro()
		}
		b = binary.AppendVarint(b, t)
		for _, s := range [...]string{ev.Type, ev.Outcome, ev.Actor, ev.Target} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		b = binary.AppendUvarint(b, uint64(len(ev.Body)))
		b = append(b, ev.Body...)
	}
	return b
}

// errBundle is wrapped by the errors of decoding a malformed bundle.
var errBundle = errors.New("malformed event bundle")

// DecodeEvents decodes an events column written by EncodeEvents, giving
// the events Index values from first on. Bodies are copied out of data.
// It returns an error, never panics, on any malformed input.
func DecodeEvents(first int64, data []byte) ([]Event, error) {
	var out []Event
	err := scanEvents(first, -1, data, nil, func(ev *Event) bool {
		ev.Body = cloneBytes(ev.Body)
		out = append(out, *ev)
		return true
	})
	return out, err
}

// rawEvent is an event as it lies in a bundle, before any copy.
type rawEvent struct {
	index                       int64
	time                        int64 // microseconds, or zeroTime
	typ, outcome, actor, target []byte
}

// scanEvents decodes data, the events column of a bundle whose events
// have indexes first to last (last -1: as many as data holds), and calls
// fn with each event that keep accepts (every one when keep is nil) until
// fn returns false. keep sees the event undecoded, so that skipping one
// costs no allocation. The event passed to fn is reused: fn must copy
// what it keeps; its strings are its own, its Body aliases data.
// scanEvents fails if data is malformed or, when it read it all, holds
// another number of events than last-first+1.
func scanEvents(first, last int64, data []byte, keep func(r *rawEvent) bool, fn func(ev *Event) bool) error {
	if len(data) == 0 || data[0] != bundleFormat {
		return fmt.Errorf("%w: unknown format", errBundle)
	}
	d := data[1:]
	var r rawEvent
	var ev Event
	i := first
	for ; len(d) > 0; i++ {
		if last >= 0 && i > last {
			return fmt.Errorf("%w: more events than indexes %d to %d", errBundle, first, last)
		}
		t, n := binary.Varint(d)
		if n <= 0 {
			return fmt.Errorf("%w: event %d: bad time", errBundle, i)
		}
		d = d[n:]
		var fields [5][]byte
		for f := range fields {
			l, n := binary.Uvarint(d)
			if n <= 0 || l > uint64(len(d)-n) {
				return fmt.Errorf("%w: event %d: bad length", errBundle, i)
			}
			fields[f], d = d[n:n+int(l)], d[n+int(l):]
		}
		r = rawEvent{index: i, time: t, typ: fields[0], outcome: fields[1], actor: fields[2], target: fields[3]}
		if keep != nil && !keep(&r) {
			continue
		}
		ev = Event{Index: i, Type: string(fields[0]), Outcome: string(fields[1]), Actor: string(fields[2]), Target: string(fields[3])}
		if t != zeroTime {
			ev.Time = time.UnixMicro(t).UTC()
		}
		if len(fields[4]) > 0 {
			ev.Body = fields[4]
		}
		if !fn(&ev) {
			return nil
		}
	}
	if last >= 0 && i != last+1 {
		return fmt.Errorf("%w: %d events for indexes %d to %d", errBundle, i-first, first, last)
	}
	return nil
}

// bundle is one row of ledger_bundles being written.
type bundle struct {
	first, last int64
	minTime     any // timeArg of the earliest non-zero time, or nil
	maxTime     any
	leafHashes  []byte // empty when the events have no leaf hash yet
	events      []byte
}

// makeBundles splits evs, which have contiguous indexes, into bundles.
// Events either all have leaf hashes or none has.
func makeBundles(evs []Event) ([]bundle, error) {
	var out []bundle
	for start := 0; start < len(evs); {
		end, size := start, 0
		for end < len(evs) && end-start < maxBundleEvents && (end == start || size < maxBundleBytes) {
			size += encodedSize(&evs[end])
			end++
		}
		b, err := newBundle(evs[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		start = end
	}
	return out, nil
}

// newBundle encodes evs as one bundle.
func newBundle(evs []Event) (bundle, error) {
	b := bundle{first: evs[0].Index, last: evs[len(evs)-1].Index, events: EncodeEvents(evs)}
	hashed := evs[0].LeafHash != nil
	if hashed {
		b.leafHashes = make([]byte, 0, len(evs)*leafHashSize)
	}
	var lo, hi time.Time
	for i := range evs {
		ev := &evs[i]
		if (ev.LeafHash != nil) != hashed || (hashed && len(ev.LeafHash) != leafHashSize) {
			return bundle{}, fmt.Errorf("event %d: leaf hash must be %d bytes in every event of an append or in none", ev.Index, leafHashSize)
		}
		b.leafHashes = append(b.leafHashes, ev.LeafHash...)
		if !ev.Time.IsZero() {
			if lo.IsZero() || ev.Time.Before(lo) {
				lo = ev.Time
			}
			if hi.IsZero() || ev.Time.After(hi) {
				hi = ev.Time
			}
		}
	}
	b.minTime, b.maxTime = timeArg(lo), timeArg(hi)
	return b, nil
}

// bundleEvents moves the rows of the events table of schema versions 1 to
// 5 into bundles, then drops it. Runs of events with leaf hashes go into
// full bundles; an event without one (stored by AppendEvent and not yet
// adopted by the ledger) gets a bundle of its own, as AppendEvent now
// writes it.
func bundleEvents(ctx context.Context, q queries) error {
	var run []Event
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		_, err := q.insertEvents(ctx, run)
		run = run[:0]
		return err
	}
	for after := int64(-1); ; {
		rows, err := q.query(ctx, `SELECT idx, time, type, outcome, actor, target, body, leaf_hash FROM events
			WHERE idx > ? ORDER BY idx LIMIT 1024`, after)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		var page []Event
		for rows.Next() {
			var ev Event
			if err := rows.Scan(&ev.Index, timeCol{&ev.Time}, &ev.Type, &ev.Outcome, &ev.Actor, &ev.Target,
				bytesCol{&ev.Body}, bytesCol{&ev.LeafHash}); err != nil {
				rows.Close()
				return fmt.Errorf("read events: %w", err)
			}
			page = append(page, ev)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			if ev.Index != after+1 {
				return fmt.Errorf("events: index %d follows %d", ev.Index, after)
			}
			after = ev.Index
			if len(ev.LeafHash) != 0 && len(ev.LeafHash) != leafHashSize {
				return fmt.Errorf("events: event %d has a leaf hash of %d bytes", ev.Index, len(ev.LeafHash))
			}
			if ev.LeafHash == nil || len(run) == maxBundleEvents {
				if err := flush(); err != nil {
					return err
				}
			}
			run = append(run, ev)
			if ev.LeafHash == nil {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DROP TABLE events`); err != nil {
		return fmt.Errorf("drop events: %w", err)
	}
	return nil
}
