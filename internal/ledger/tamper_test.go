package ledger_test

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// editEvents reads the event log stored in db, passes it to fn, and
// stores what fn returns in its place, each event in a bundle of its own
// at its Index, as someone with write access to the file could.
func editEvents(t testing.TB, db *sql.DB, fn func(evs []store.Event) []store.Event) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT first_idx, leaf_hashes, events FROM ledger_bundles ORDER BY last_idx`)
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	for rows.Next() {
		var first int64
		var hashes, data []byte
		if err := rows.Scan(&first, &hashes, &data); err != nil {
			t.Fatal(err)
		}
		bundle, err := store.DecodeEvents(first, data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range bundle {
			bundle[i].LeafHash = hashes[i*32 : (i+1)*32]
		}
		evs = append(evs, bundle...)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	evs = fn(evs)
	mustExec(t, db, `DELETE FROM ledger_bundles`)
	for _, ev := range evs {
		mustExec(t, db, `INSERT INTO ledger_bundles (last_idx, first_idx, leaf_hashes, events) VALUES (?, ?, ?, ?)`,
			ev.Index, ev.Index, ev.LeafHash, store.EncodeEvents([]store.Event{ev}))
	}
}

// editBody replaces old by new in the body of ev, and its leaf hash too
// when rehash is set.
func editBody(ev *store.Event, old, new string, rehash bool) {
	ev.Body = bytes.Replace(ev.Body, []byte(old), []byte(new), 1)
	if rehash {
		ev.LeafHash = rfc6962.DefaultHasher.HashLeaf(ev.Body)
	}
}

// TestTamper alters the SQLite file behind a ledger of 20 entries with
// checkpoints every 4, and checks that VerifyLog finds each alteration
// and names the first bad entry.
func TestTamper(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, db *sql.DB)
		trusted  func(t *testing.T, signer *ledger.Signer) *ledger.Checkpoint
		firstBad int64
		problem  string // a phrase of Problem; "" when the log verifies
	}{
		{name: "untouched", tamper: func(*testing.T, *sql.DB) {}, firstBad: -1},
		{name: "entry body", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[9], "entry-9", "entry-X", false)
				return evs
			})
		}, firstBad: 9, problem: "entry 9 was altered"},
		{name: "entry body and leaf hash", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				editBody(&evs[9], "entry-9", "entry-X", true)
				return evs
			})
		}, firstBad: 8, problem: "entries 8 to 11 do not match the checkpoint at size 12, and their stored leaf hashes were rewritten"},
		{name: "leaf hash only", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				evs[9].LeafHash = rfc6962.DefaultHasher.HashLeaf([]byte("other"))
				return evs
			})
		}, firstBad: 9, problem: "stored leaf hash of entry 9 was altered"},
		{name: "entry deleted", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event { return slices.Delete(evs, 9, 10) })
		}, firstBad: 9, problem: "entry 9 is missing"},
		{name: "entry deleted and the rest renumbered", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				evs = slices.Delete(evs, 9, 10)
				for i := 9; i < len(evs); i++ {
					evs[i].Index--
				}
				return evs
			})
		}, firstBad: 9, problem: "entry 9 embeds index 10"},
		{name: "entries swapped", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event {
				evs[9].Body, evs[14].Body = evs[14].Body, evs[9].Body
				evs[9].LeafHash, evs[14].LeafHash = evs[14].LeafHash, evs[9].LeafHash
				return evs
			})
		}, firstBad: 9, problem: "entry 9 embeds index 14"},
		{name: "log truncated", tamper: func(t *testing.T, db *sql.DB) {
			editEvents(t, db, func(evs []store.Event) []store.Event { return evs[:18] })
		}, firstBad: 18, problem: "the log ends at entry 18"},
		{name: "checkpoint edited", tamper: func(t *testing.T, db *sql.DB) {
			editCheckpoint(t, db, 12)
		}, firstBad: -1, problem: "the published checkpoint following size 8 does not verify"},
		{name: "latest checkpoint edited", tamper: func(t *testing.T, db *sql.DB) {
			editCheckpoint(t, db, 20)
		}, firstBad: -1, problem: "the latest checkpoint does not verify"},
		{name: "checkpoint removed", tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM ledger_checkpoints WHERE size = 12`)
		}, firstBad: -1},
		{name: "rolled back past a trusted checkpoint", tamper: func(t *testing.T, db *sql.DB) {
			mustExec(t, db, `DELETE FROM ledger_checkpoints WHERE size > 16`)
		}, trusted: func(t *testing.T, signer *ledger.Signer) *ledger.Checkpoint {
			return nil // set from the log below
		}, firstBad: -1, problem: "smaller than the trusted one"},
		{name: "trusted checkpoint of a forked log", tamper: func(*testing.T, *sql.DB) {},
			trusted: func(t *testing.T, signer *ledger.Signer) *ledger.Checkpoint {
				fork := newLedger(t, openStore(t, sqliteURL(t)), signer, nil)
				for i := range 8 {
					mustRecord(t, fork, testEvent(100+i))
				}
				return mustPublish(t, fork)
			}, firstBad: -1, problem: "not consistent with the trusted checkpoint at size 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := sqliteURL(t)
			signer := newSigner(t)
			l := newLedger(t, openStore(t, url), signer, nil)
			for i := range 20 {
				mustRecord(t, l, testEvent(i))
				if (i+1)%4 == 0 {
					mustPublish(t, l)
				}
			}
			var trusted *ledger.Checkpoint
			if tc.trusted != nil {
				if trusted = tc.trusted(t, signer); trusted == nil {
					trusted, _ = l.Checkpoint(t.Context())
				}
			}
			tc.tamper(t, rawSQLite(t, url))
			rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier(), Trusted: trusted})
			if rep == nil {
				t.Fatalf("VerifyLog returned no report (error %v)", err)
			}
			if tc.problem == "" {
				if err != nil || rep.FirstBad != -1 || rep.Problem != "" || rep.Size != 20 {
					t.Errorf("VerifyLog = %+v, %v; want a clean report of size 20", rep, err)
				}
				return
			}
			if !errors.Is(err, ledger.ErrVerificationFailed) {
				t.Errorf("VerifyLog error = %v, want ErrVerificationFailed", err)
			}
			if rep.FirstBad != tc.firstBad || !strings.Contains(rep.Problem, tc.problem) {
				t.Errorf("VerifyLog: FirstBad %d, Problem %q\nwant FirstBad %d, Problem containing %q",
					rep.FirstBad, rep.Problem, tc.firstBad, tc.problem)
			}
		})
	}
}

// editCheckpoint changes the root in the stored note of the checkpoint at
// size, keeping its signature.
func editCheckpoint(t testing.TB, db *sql.DB, size int) {
	t.Helper()
	var msg []byte
	if err := db.QueryRowContext(t.Context(), `SELECT note FROM ledger_checkpoints WHERE size = ?`, size).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitN(msg, []byte("\n"), 4)
	forged := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xee}, 32))
	msg = bytes.Replace(msg, lines[2], []byte(forged), 1)
	mustExec(t, db, `UPDATE ledger_checkpoints SET note = ? WHERE size = ?`, msg, size)
}

func TestVerifyLogProgress(t *testing.T) {
	l, _, signer := testLedger(t)
	for i := range 30 {
		mustRecord(t, l, testEvent(i))
	}
	mustPublish(t, l)
	var calls [][2]uint64
	rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{
		Verifier: signer.Verifier(),
		Progress: func(done, total uint64) { calls = append(calls, [2]uint64{done, total}) },
	})
	if err != nil {
		t.Fatalf("VerifyLog: %v (%+v)", err, rep)
	}
	if len(calls) == 0 || calls[len(calls)-1] != [2]uint64{30, 30} {
		t.Errorf("Progress calls %v, want the last to be {30 30}", calls)
	}
	if _, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{}); err == nil {
		t.Error("VerifyLog without a verifier succeeded")
	}
}
