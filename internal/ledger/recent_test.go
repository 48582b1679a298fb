package ledger_test

import (
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// TestVerifyRecent alters the SQLite file behind a ledger of 23 entries
// (checkpoints every 4 up to 20, three entries after) and checks that
// VerifyRecent, on a ledger opened afresh as a restarted server opens
// it, finds what lies in its window or in the stored tree, and names the
// first bad entry.
func TestVerifyRecent(t *testing.T) {
	const window = 6 // entries 14 to 19 before the checkpoint at 20
	tests := []struct {
		name     string
		tamper   func(t *testing.T, db *sql.DB, state []any)
		firstBad int64
		problem  string // a phrase of Problem; "" when the store verifies
	}{
		{name: "untouched", tamper: func(*testing.T, *sql.DB, []any) {}, firstBad: -1},
		{name: "entry body", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[17], "entry-17", "entry-X", false)
				return evs
			})
		}, firstBad: 17, problem: "entry 17 was altered"},
		{name: "entry body and leaf hash", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[17], "entry-17", "entry-X", true)
				return evs
			})
		}, firstBad: 16, problem: "entries 16 to 19 do not match the checkpoint at size 20"},
		{name: "entry deleted", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event { return slices.Delete(evs, 15, 16) })
		}, firstBad: 15, problem: "entry 15 is missing"},
		{name: "unsigned entry body", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[21], "entry-21", "entry-X", false)
				return evs
			})
		}, firstBad: 21, problem: "entry 21 was altered"},
		{name: "unsigned entry body and leaf hash", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[21], "entry-21", "entry-X", true)
				return evs
			})
		}, firstBad: 20, problem: "entries 20 to 22 do not match the stored tree state"},
		{name: "unsigned entry deleted", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event { return evs[:22] })
		}, firstBad: 22, problem: "the log ends at entry 22"},
		{name: "stored hash before the window", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				evs[3].LeafHash = rfc6962.DefaultHasher.HashLeaf([]byte("other"))
				return evs
			})
		}, firstBad: 0, problem: "or the stored hashes of the entries before 14 were"},
		{name: "latest checkpoint edited", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editCheckpoint(t, db, 20)
		}, firstBad: -1, problem: "the latest checkpoint does not verify"},
		{name: "rolled back behind the checkpoint", tamper: func(t *testing.T, db *sql.DB, state []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event { return evs[:18] })
			mustExec(t, db, `UPDATE ledger_state SET size = ?, root = ?, compact_range = ?`, state...)
		}, firstBad: 18, problem: "smaller than the signed checkpoint (size 20)"},
		// An old entry lies outside the window: VerifyLog finds it.
		{name: "entry before the window", tamper: func(t *testing.T, db *sql.DB, _ []any) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[5], "entry-5", "entry-X", false)
				return evs
			})
		}, firstBad: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := sqliteURL(t)
			signer := newSigner(t)
			l := newLedger(t, openStore(t, url), signer, nil)
			db := rawSQLite(t, url)
			var state []any // the stored tree at size 18
			for i := range 23 {
				mustRecord(t, l, testEvent(i))
				if i == 17 {
					var size int64
					var root, rng []byte
					if err := db.QueryRowContext(t.Context(), `SELECT size, root, compact_range FROM ledger_state`).Scan(&size, &root, &rng); err != nil {
						t.Fatal(err)
					}
					state = []any{size, root, rng}
				}
				if (i+1)%4 == 0 && i < 20 {
					mustPublish(t, l)
				}
			}
			tc.tamper(t, db, state)
			restarted := newLedger(t, openStore(t, url), signer, nil)
			rep, err := restarted.VerifyRecent(t.Context(), window)
			if rep == nil {
				t.Fatalf("VerifyRecent returned no report (error %v)", err)
			}
			if tc.problem == "" {
				if err != nil || rep.FirstBad != -1 || rep.Problem != "" || rep.Size != 23 {
					t.Errorf("VerifyRecent = %+v, %v; want a clean report of size 23", rep, err)
				}
				return
			}
			if !errors.Is(err, ledger.ErrVerificationFailed) {
				t.Errorf("VerifyRecent error = %v, want ErrVerificationFailed", err)
			}
			if rep.FirstBad != tc.firstBad || !strings.Contains(rep.Problem, tc.problem) {
				t.Errorf("VerifyRecent: FirstBad %d, Problem %q\nwant FirstBad %d, Problem containing %q",
					rep.FirstBad, rep.Problem, tc.firstBad, tc.problem)
			}
		})
	}
}

// TestVerifyRecentBeforeCheckpoint: with nothing signed yet, every entry
// is checked against the stored tree.
func TestVerifyRecentBeforeCheckpoint(t *testing.T) {
	url := sqliteURL(t)
	signer := newSigner(t)
	l := newLedger(t, openStore(t, url), signer, nil)
	if rep, err := l.VerifyRecent(t.Context(), 0); err != nil || rep.Size != 0 {
		t.Fatalf("empty log: %+v, %v", rep, err)
	}
	for i := range 5 {
		mustRecord(t, l, testEvent(i))
	}
	if rep, err := l.VerifyRecent(t.Context(), 0); err != nil || rep.Size != 5 {
		t.Fatalf("5 entries: %+v, %v", rep, err)
	}
	editEvents(t, rawSQLite(t, url), func(evs []store.Event) []store.Event {
		editBody(&evs[2], "entry-2", "entry-X", false)
		return evs
	})
	rep, err := newLedger(t, openStore(t, url), signer, nil).VerifyRecent(t.Context(), 0)
	if !errors.Is(err, ledger.ErrVerificationFailed) || rep.FirstBad != 2 {
		t.Errorf("VerifyRecent = %+v, %v; want entry 2 named", rep, err)
	}
}
