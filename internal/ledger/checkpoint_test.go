package ledger_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/ledger"
)

// rawSQLite opens the SQLite database behind a store URL directly, for
// tampering with it.
func rawSQLite(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(url, "sqlite:")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// signNote signs text with signers.
func signNote(t testing.TB, text string, signers ...note.Signer) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestParseCheckpoint(t *testing.T) {
	signer := newSigner(t)
	other := newSigner(t)
	root := bytes.Repeat([]byte{7}, 32)
	body := string(ledger.CheckpointBody(testOrigin, 42, root))
	witness := newFakeWitness(t, "witness.example", signer.Verifier())
	good := signNote(t, body, signer)
	tests := []struct {
		name string
		msg  []byte
		want *ledger.Checkpoint // nil: ErrInvalidCheckpoint
	}{
		{"valid", good, &ledger.Checkpoint{Origin: testOrigin, Size: 42, Root: root, Note: good}},
		{"cosigned", signNote(t, body, signer, witness.signer), &ledger.Checkpoint{Origin: testOrigin, Size: 42, Root: root,
			Note: signNote(t, body, signer, witness.signer)}},
		{"other key", signNote(t, body, other), nil},
		{"only a witness", signNote(t, body, witness.signer), nil},
		{"size edited", bytes.Replace(good, []byte("\n42\n"), []byte("\n43\n"), 1), nil},
		{"root edited", bytes.Replace(good, []byte(base64.StdEncoding.EncodeToString(root)),
			[]byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))), 1), nil},
		{"signature edited", append(good[:len(good)-3:len(good)-3], "AA\n"...), nil},
		{"extension line", signNote(t, body+"extra\n", signer), nil},
		{"leading zero", signNote(t, strings.Replace(body, "\n42\n", "\n042\n", 1), signer), nil},
		{"short root", signNote(t, string(ledger.CheckpointBody(testOrigin, 42, root[:31])), signer), nil},
		{"other origin", signNote(t, string(ledger.CheckpointBody("other.example/log", 42, root)), signer), nil},
		{"no signature", []byte(body), nil},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ledger.ParseCheckpoint(tc.msg, signer.Verifier())
			if tc.want == nil {
				if !errors.Is(err, ledger.ErrInvalidCheckpoint) {
					t.Errorf("ParseCheckpoint error = %v, want ErrInvalidCheckpoint", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCheckpoint: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseCheckpoint mismatch (-want +got):\n%s", d)
			}
		})
	}
	if _, err := ledger.ParseCheckpoint(good, nil); !errors.Is(err, ledger.ErrInvalidCheckpoint) {
		t.Errorf("ParseCheckpoint with no verifier: error = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	s := openStore(t, sqliteURL(t))
	signer := newSigner(t)
	skey, _, _ := ledger.GenerateKey("other.example/log")
	otherName, _ := ledger.NewSigner(skey)
	plain, _ := note.NewSigner(func() string { k, _, _ := ledger.GenerateKey(testOrigin); return k }())
	tests := []struct {
		name string
		edit func(*ledger.Config)
	}{
		{"no store", func(c *ledger.Config) { c.Store = nil }},
		{"no origin", func(c *ledger.Config) { c.Origin = "" }},
		{"no signer", func(c *ledger.Config) { c.Signer = nil }},
		{"signer of another origin", func(c *ledger.Config) { c.Signer = otherName }},
		{"plain signer without verifier", func(c *ledger.Config) { c.Signer = plain }},
		{"verifier of another key", func(c *ledger.Config) { c.Verifier = newSigner(t).Verifier() }},
		{"negative interval", func(c *ledger.Config) { c.CheckpointInterval = -time.Second }},
		{"quorum above witnesses", func(c *ledger.Config) { c.Quorum = 1 }},
		{"negative quorum", func(c *ledger.Config) { c.Quorum = -1 }},
		{"nil witness", func(c *ledger.Config) { c.Witnesses = []ledger.Witness{nil} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ledger.Config{Store: s, Origin: testOrigin, Signer: signer}
			tc.edit(&cfg)
			if _, err := ledger.New(t.Context(), cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
	if _, err := ledger.NewSigner("PRIVATE+KEY+x+00000000+AAAA"); err == nil {
		t.Error("NewSigner of a malformed key succeeded")
	}
	if got := signer.String(); strings.Contains(got, "PRIVATE") || !strings.Contains(got, testOrigin) {
		t.Errorf("Signer.String() = %q", got)
	}
}

func TestPublish(t *testing.T) {
	clock := newFakeClock()
	s := openStore(t, sqliteURL(t))
	signer := newSigner(t)
	l := newLedger(t, s, signer, func(c *ledger.Config) { c.Clock = clock.Now })
	if cp, err := l.PublishForTest(t.Context()); err != nil || cp != nil {
		t.Fatalf("publish of an empty log = %v, %v; want nothing", cp, err)
	}
	if _, err := l.Checkpoint(t.Context()); !errors.Is(err, ledger.ErrNoCheckpoint) {
		t.Fatalf("Checkpoint of an empty log: error = %v, want ErrNoCheckpoint", err)
	}
	for i := range 3 {
		mustRecord(t, l, testEvent(i))
	}
	first := mustPublish(t, l)
	if first.Size != 3 || first.Origin != testOrigin || first.Time.IsZero() {
		t.Errorf("first checkpoint: %+v", first)
	}
	if again := mustPublish(t, l); !cmp.Equal(again, first) {
		t.Errorf("publish without growth gave a new checkpoint:\n%+v\nwant\n%+v", again, first)
	}
	for i := 3; i < 5; i++ {
		mustRecord(t, l, testEvent(i))
	}
	second := mustPublish(t, l)
	latest, err := l.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(second, latest); d != "" {
		t.Errorf("Checkpoint mismatch (-published +latest):\n%s", d)
	}
	p, err := l.ConsistencyProof(t.Context(), 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyConsistency(first, second, p); err != nil {
		t.Errorf("consecutive checkpoints are not consistent: %v", err)
	}
	tests := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 0, []uint64{3, 5}},
		{3, 0, []uint64{5}},
		{0, 1, []uint64{3}},
		{5, 0, nil},
	}
	for _, tc := range tests {
		got, err := l.Checkpoints(t.Context(), tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Checkpoints: %v", err)
		}
		var sizes []uint64
		for _, cp := range got {
			sizes = append(sizes, cp.Size)
			if _, err := ledger.ParseCheckpoint(cp.Note, signer.Verifier()); err != nil {
				t.Errorf("history note of size %d: %v", cp.Size, err)
			}
		}
		if d := cmp.Diff(tc.want, sizes); d != "" {
			t.Errorf("Checkpoints(%d, %d) sizes mismatch (-want +got):\n%s", tc.after, tc.limit, d)
		}
	}
}

// ledgerState reads the ledger_state row of a SQLite database.
func ledgerState(t testing.TB, db *sql.DB) (size int64, root, rng []byte) {
	t.Helper()
	err := db.QueryRowContext(t.Context(), `SELECT size, root, compact_range FROM ledger_state`).Scan(&size, &root, &rng)
	if err != nil {
		t.Fatal(err)
	}
	return size, root, rng
}

// TestPublishRefuses tampers with the persisted tree state: the ledger
// must not sign a tree that does not extend its last checkpoint.
func TestPublishRefuses(t *testing.T) {
	// A forked log: same key, other events.
	forkURL := sqliteURL(t)
	signer := newSigner(t)
	fork := newLedger(t, openStore(t, forkURL), signer, nil)
	forkDB := rawSQLite(t, forkURL)
	var fork10, fork12 [3]any
	for i := range 12 {
		mustRecord(t, fork, testEvent(100+i))
		switch i + 1 {
		case 10:
			fork10[0], fork10[1], fork10[2] = ledgerState(t, forkDB)
		case 12:
			fork12[0], fork12[1], fork12[2] = ledgerState(t, forkDB)
		}
	}
	setState := func(t *testing.T, db *sql.DB, st [3]any) {
		mustExec(t, db, `UPDATE ledger_state SET size = ?, root = ?, compact_range = ?`, st[0], st[1], st[2])
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB, early [3]any)
	}{
		{"rolled back", func(t *testing.T, db *sql.DB, early [3]any) { setState(t, db, early) }},
		{"root without its range", func(t *testing.T, db *sql.DB, _ [3]any) {
			mustExec(t, db, `UPDATE ledger_state SET root = ?`, bytes.Repeat([]byte{1}, 32))
		}},
		{"forked, same size", func(t *testing.T, db *sql.DB, _ [3]any) { setState(t, db, fork10) }},
		{"forked, larger", func(t *testing.T, db *sql.DB, _ [3]any) { setState(t, db, fork12) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := sqliteURL(t)
			l := newLedger(t, openStore(t, url), signer, nil)
			db := rawSQLite(t, url)
			for i := range 4 {
				mustRecord(t, l, testEvent(i))
			}
			var early [3]any
			early[0], early[1], early[2] = ledgerState(t, db)
			for i := 4; i < 10; i++ {
				mustRecord(t, l, testEvent(i))
			}
			published := mustPublish(t, l)
			tc.tamper(t, db, early)
			_, err := l.PublishForTest(t.Context())
			if !errors.Is(err, ledger.ErrRefused) {
				t.Errorf("publish after tampering: error = %v, want a refusal", err)
			}
			if latest, err := l.Checkpoint(t.Context()); err != nil || latest.Size != published.Size {
				t.Errorf("latest checkpoint after refusal: %v, %v; want size %d", latest, err, published.Size)
			}
		})
	}
}

// TestRun runs the publishing loop in a synctest bubble, whose fake clock
// moves only when every goroutine waits: Run publishes at once, then at
// the next tick for a log that grew; Changed signals commits and rounds.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Millisecond
		s := openStore(t, sqliteURL(t))
		l := newLedger(t, s, newSigner(t), func(c *ledger.Config) { c.CheckpointInterval = interval })
		mustRecord(t, l, testEvent(0))
		runLedger(t, l)
		synctest.Wait() // Run has published and waits for its ticker
		if cp := latestCheckpoint(t, l); cp.Size != 1 {
			t.Fatalf("checkpoint size %d at start, want 1", cp.Size)
		}
		changed := l.Changed()
		for i := 1; i < 10; i++ {
			mustRecord(t, l, testEvent(i))
		}
		select {
		case <-changed:
		default:
			t.Error("Changed not closed by a commit")
		}
		changed = l.Changed()
		time.Sleep(interval) // the fake clock: one tick
		synctest.Wait()
		if cp := latestCheckpoint(t, l); cp.Size != 10 {
			t.Errorf("checkpoint size %d, want 10", cp.Size)
		}
		select {
		case <-changed:
		default:
			t.Error("Changed not closed after a publishing round")
		}
	})
}

// runLedger runs l.Run until t ends and checks that it returns nil.
func runLedger(t testing.TB, l *ledger.Ledger) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// latestCheckpoint returns the latest published checkpoint.
func latestCheckpoint(t testing.TB, l *ledger.Ledger) *ledger.Checkpoint {
	t.Helper()
	cp, err := l.Checkpoint(t.Context())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp
}
