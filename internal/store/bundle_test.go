package store_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kith-dev/kith/internal/store"
)

// TestMigrateEventsToBundles fills the events table of schema version 5
// with 600 events, the last two without leaf hashes as AppendEvent wrote
// them, and checks that migration 6 moves every one into bundles
// unchanged, that queries and leaf hashes read them back, and that the
// unhashed ones can still be adopted.
func TestMigrateEventsToBundles(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			url := be.url(t)
			db, rebind, err := store.MigrateForTest(t.Context(), url, 5)
			if err != nil {
				t.Fatalf("migrate to 5: %v", err)
			}
			exec := func(query string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(t.Context(), rebind(query), args...); err != nil {
					t.Fatalf("%s: %v", query, err)
				}
			}
			const n, hashed = 600, 598
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var want []store.Event
			for i := range n {
				ev := store.Event{Index: int64(i), Time: t0.Add(time.Duration(i) * time.Millisecond),
					Type: fmt.Sprint("type-", i%3), Outcome: "success", Actor: fmt.Sprint("actor-", i%7),
					Target: fmt.Sprint("target-", i%11), Body: fmt.Appendf(nil, `{"i":%d}`, i)}
				var leaf []byte // NULL in PostgreSQL
				if i < hashed {
					h := sha256.Sum256(ev.Body)
					ev.LeafHash = h[:]
					leaf = ev.LeafHash
				}
				if i == 5 {
					ev.Time = time.Time{}
				}
				var tm any
				if !ev.Time.IsZero() {
					tm = ev.Time.UnixMicro()
				}
				exec(`INSERT INTO events (idx, time, type, outcome, actor, target, body, leaf_hash)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, i, tm, ev.Type, ev.Outcome, ev.Actor, ev.Target, ev.Body, leaf)
				want = append(want, ev)
			}
			exec(`UPDATE counters SET value = ? WHERE name = 'events'`, n)
			exec(`UPDATE ledger_state SET size = ? WHERE id = 1`, hashed)
			db.Close()

			s := open(t, url, nil)
			var got []store.Event
			for after := int64(-1); ; {
				page, err := s.ListEvents(t.Context(), store.EventFilter{After: after, Limit: 1000})
				if err != nil {
					t.Fatalf("ListEvents: %v", err)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].Index
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("events after migration (-want +got):\n%s", d)
			}
			hashes, err := s.LedgerHashes(t.Context(), 0, 250, 598)
			if err != nil || len(hashes) != 348 || !bytes.Equal(hashes[0], want[250].LeafHash) {
				t.Errorf("LedgerHashes(0, 250, 598) = %d hashes, %v", len(hashes), err)
			}
			if _, err := s.LedgerHashes(t.Context(), 0, 597, 599); err == nil {
				t.Error("LedgerHashes over an unhashed event succeeded")
			}
			byActor, err := s.ListEvents(t.Context(), store.EventFilter{After: -1, Actor: "actor-3", Type: "type-1", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range byActor {
				if ev.Index%7 != 3 || ev.Index%3 != 1 {
					t.Errorf("actor-3 type-1 query returned event %d", ev.Index)
				}
			}
			if len(byActor) != n/21+1 {
				t.Errorf("actor-3 type-1 query returned %d events, want %d", len(byActor), n/21+1)
			}
			adopted := want[hashed:]
			for i := range adopted {
				adopted[i].Body = []byte("adopted")
				adopted[i].LeafHash = bytes.Repeat([]byte{byte(i)}, 32)
			}
			err = s.AppendLedger(t.Context(), store.LedgerAppend{PrevSize: hashed,
				Next: store.LedgerState{Size: n, Root: []byte("r"), Range: []byte("x")}, Adopted: adopted})
			if err != nil {
				t.Fatalf("adopting the unhashed events: %v", err)
			}
			last, err := s.ListEvents(t.Context(), store.EventFilter{After: hashed - 1})
			if err != nil || len(last) != 2 || string(last[1].Body) != "adopted" || last[1].Actor != want[n-1].Actor {
				t.Errorf("adopted events = %+v, %v", last, err)
			}
		})
	}
}

// TestDecodeEventsMalformed checks that DecodeEvents refuses truncated
// and corrupt input without panicking.
func TestDecodeEventsMalformed(t *testing.T) {
	good := store.EncodeEvents([]store.Event{{Type: "t", Outcome: "o", Actor: "a", Target: "x", Body: []byte("{}"),
		Time: time.UnixMicro(1)}})
	if evs, err := store.DecodeEvents(7, good); err != nil || len(evs) != 1 || evs[0].Index != 7 {
		t.Fatalf("DecodeEvents(good) = %+v, %v", evs, err)
	}
	for i := range len(good) {
		if _, err := store.DecodeEvents(0, good[:i]); err == nil && i > 0 && i < len(good) {
			// A prefix that ends on an event boundary is a valid shorter
			// bundle; any other prefix must fail.
			if i != 1 {
				t.Errorf("DecodeEvents of a %d-byte prefix succeeded", i)
			}
		}
	}
	if _, err := store.DecodeEvents(0, []byte{9}); err == nil {
		t.Error("unknown format accepted")
	}
}

// FuzzDecodeEvents checks that DecodeEvents never panics and that what it
// accepts survives encoding and decoding again.
func FuzzDecodeEvents(f *testing.F) {
	f.Add(store.EncodeEvents([]store.Event{{Type: "t", Body: []byte("{}")}, {Actor: "a"}}))
	f.Add([]byte{1, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := store.DecodeEvents(0, data)
		if err != nil {
			return
		}
		again, err := store.DecodeEvents(0, store.EncodeEvents(evs))
		if err != nil {
			t.Fatalf("decoding the re-encoded events: %v", err)
		}
		if d := cmp.Diff(evs, again, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}
