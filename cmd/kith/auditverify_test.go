package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/api"
)

func TestAuditVerifyUsage(t *testing.T) {
	_, vkey, err := note.GenerateKey(rand.Reader, "example.org/kith/ledger")
	if err != nil {
		t.Fatal(err)
	}
	// offline points the CLI at no server at all.
	offline := func(t *testing.T, _ *fakeAdmin, dir string) {
		t.Setenv("KITH_DATA", filepath.Join(dir, "nowhere"))
		t.Setenv("KITH_ADDR", "127.0.0.1:1")
		mustWrite(t, filepath.Join(dir, "key.txt"), []byte(vkey+"\n"), 0o644)
		mustWrite(t, filepath.Join(dir, "ev.json"), []byte(`{"index":0,"entry":{},"inclusion_proof":[],"checkpoint":"not a note"}`), 0o644)
		mustWrite(t, filepath.Join(dir, "garbage.json"), []byte(`{"index":`), 0o644)
	}
	runCases(t, []cliCase{
		{name: "nothing to verify", args: []string{"audit", "verify"}, code: 2, stderr: []string{"want an evidence FILE, or --log URL"}, check: noRequests},
		{name: "two files", args: []string{"audit", "verify", "a", "b", "--key", vkey}, code: 2, stderr: []string{"want an evidence FILE"}, check: noRequests},
		{name: "no key for a file", args: []string{"audit", "verify", "ev.json"}, code: 2, stderr: []string{"--key or --key-file is required"}, check: noRequests},
		{name: "both keys", args: []string{"audit", "verify", "ev.json", "--key", vkey, "--key-file", "k"}, code: 2, stderr: []string{"give --key or --key-file, not both"}, check: noRequests},
		{name: "state without log", args: []string{"audit", "verify", "ev.json", "--key", vkey, "--state", "s"}, code: 2, stderr: []string{"--state applies to --log only"}, check: noRequests},
		{name: "log and file", args: []string{"audit", "verify", "ev.json", "--log", "https://127.0.0.1:8443"}, code: 2, stderr: []string{"it takes no FILE"}, check: noRequests},
		{name: "log and addr", args: []string{"audit", "verify", "--log", "https://127.0.0.1:8443", "--addr", "127.0.0.1:8443"}, code: 2, stderr: []string{"drop --addr"}, check: noRequests},
		{name: "log over http", args: []string{"audit", "verify", "--log", "http://127.0.0.1:8443"}, code: 2, stderr: []string{"--log: want the server's base URL, https://host:port"}, check: noRequests},
		{name: "log with a path", args: []string{"audit", "verify", "--log", "https://127.0.0.1:8443/v1/ledger"}, code: 2, stderr: []string{"--log: want the server's base URL"}, check: noRequests},
		{name: "log, both keys", args: []string{"audit", "verify", "--log", "https://127.0.0.1:8443", "--key", vkey, "--key-file", "k"}, code: 2, stderr: []string{"not both"}, check: noRequests},
		{name: "no -o flag", args: []string{"audit", "verify", "ev.json", "--key", vkey, "-o", "json"}, code: 2, stderr: []string{"unknown flag -o"}, check: noRequests},
		{name: "bad key", setup: offline, args: []string{"audit", "verify", "$DIR/ev.json", "--key", "nonsense"}, code: 1, stderr: []string{"verifier key of --key: malformed verifier id"}},
		{name: "missing key file", setup: offline, args: []string{"audit", "verify", "$DIR/ev.json", "--key-file", "$DIR/none.txt"}, code: 1, stderr: []string{"read key:", "no such file"}},
		{name: "missing evidence", setup: offline, args: []string{"audit", "verify", "$DIR/none.json", "--key-file", "$DIR/key.txt"}, code: 1, stderr: []string{"read evidence:", "no such file"}},
		{name: "unreadable evidence", setup: offline, args: []string{"audit", "verify", "$DIR/garbage.json", "--key-file", "$DIR/key.txt"}, code: 1, stderr: []string{"read evidence", "garbage.json", "unexpected end of JSON input"}},
		{
			name: "bad evidence, offline", setup: offline, args: []string{"audit", "verify", "$DIR/ev.json", "--key-file", "$DIR/key.txt"},
			code: 1, stdout: []string{"FAIL: "}, stderr: []string{"kith: audit verify: verification failed"},
			check: noRequests,
		},
	})
}

// oneEntryEvidence returns the evidence of the only entry of a log of size
// 1 (whose root is the entry's leaf hash and whose proof is empty), signed
// with skey.
func oneEntryEvidence(t *testing.T, skey, origin string) []byte {
	t.Helper()
	entry := `{"index":0,"time":"2030-01-02T03:04:05Z","type":"entry.created"}`
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("%s\n1\n%s\n", origin, base64.StdEncoding.EncodeToString(leafHash([]byte(entry))))
	cp, err := note.Sign(&note.Note{Text: body}, signer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(api.Evidence{Index: 0, Entry: json.RawMessage(entry), Proof: [][]byte{}, Checkpoint: string(cp)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuditVerifyEvidence(t *testing.T) {
	const origin = "example.org/kith/ledger"
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	ev := string(oneEntryEvidence(t, skey, origin))
	files := func(t *testing.T, _ *fakeAdmin, dir string) {
		t.Setenv("KITH_DATA", filepath.Join(dir, "nowhere"))
		t.Setenv("KITH_ADDR", "127.0.0.1:1")
		mustWrite(t, filepath.Join(dir, "key.txt"), []byte(vkey+"\n"), 0o644)
		mustWrite(t, filepath.Join(dir, "ev.json"), []byte(ev), 0o644)
		mustWrite(t, filepath.Join(dir, "edited.json"), []byte(strings.Replace(ev, "entry.created", "entry.deleted", 1)), 0o644)
		mustWrite(t, filepath.Join(dir, "moved.json"), []byte(strings.Replace(ev, `{"index":0,"entry"`, `{"index":1,"entry"`, 1)), 0o644)
		var pretty strings.Builder
		enc := json.NewEncoder(&pretty)
		enc.SetIndent("", "    ")
		_ = enc.Encode(json.RawMessage(ev))
		mustWrite(t, filepath.Join(dir, "pretty.json"), []byte(pretty.String()), 0o644)
	}
	ok := "OK: entry 0 is in example.org/kith/ledger at size 1\n"
	runCases(t, []cliCase{
		{name: "key file", setup: files, args: []string{"audit", "verify", "$DIR/ev.json", "--key-file", "$DIR/key.txt"}, code: 0, stdout: []string{ok}, check: noRequests},
		{name: "key", setup: files, args: []string{"audit", "verify", "--key", vkey, "$DIR/ev.json"}, code: 0, stdout: []string{ok}, check: noRequests},
		{name: "reformatted by a JSON tool", setup: files, args: []string{"audit", "verify", "$DIR/pretty.json", "--key", vkey}, code: 0, stdout: []string{ok}},
		{name: "other key", setup: files, args: []string{"audit", "verify", "$DIR/ev.json", "--key", otherKey}, code: 1,
			stdout: []string{"FAIL: ", "not signed by"}, stderr: []string{"verification failed"}},
		{name: "edited entry", setup: files, args: []string{"audit", "verify", "$DIR/edited.json", "--key", vkey}, code: 1, stdout: []string{"FAIL: "}},
		{name: "moved entry", setup: files, args: []string{"audit", "verify", "$DIR/moved.json", "--key", vkey}, code: 1, stdout: []string{"FAIL: ", "beyond the checkpoint's size 1"}},
	})
}

func TestAuditVerifyLog(t *testing.T) {
	// setup gives the fake a log of three events and a key file.
	setup := func(t *testing.T, f *fakeAdmin, dir string) {
		f.addEvents(3)
		mustWrite(t, filepath.Join(dir, "key.txt"), []byte(f.ledgerVKey+"\n"), 0o644)
	}
	withState := func(t *testing.T, f *fakeAdmin, dir string) {
		setup(t, f, dir)
		f.mu.Lock()
		cp := f.checkpoint(2)
		f.mu.Unlock()
		mustWrite(t, filepath.Join(dir, "st.txt"), cp, 0o644)
	}
	stateIs := func(want func(f *fakeAdmin) string) func(*testing.T, *fakeAdmin, result, string) {
		return func(t *testing.T, f *fakeAdmin, _ result, dir string) {
			if got := string(readFile(t, filepath.Join(dir, "st.txt"))); got != want(f) {
				t.Errorf("st.txt = %q, want %q", got, want(f))
			}
		}
	}
	latest := func(f *fakeAdmin) string { return string(f.latestCheckpoint()) }
	ok := "OK: verified 3 entries against checkpoint size 3\n"
	tests := []cliCase{
		{
			name: "from scratch", setup: setup, args: []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt", "--state", "$DIR/st.txt"},
			code: 0, stdout: []string{ok}, stderr: []string{"no state in", "verified 3/3 entries\n"}, check: stateIs(latest),
		},
		{
			name: "from a saved state", setup: withState, args: []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt", "--state", "$DIR/st.txt"},
			code: 0, stdout: []string{ok}, stderr: []string{"trusting the checkpoint of size 2 in"}, check: stateIs(latest),
		},
		{
			name: "server's own key", setup: setup, args: []string{"audit", "verify", "--log", "https://$ADDR"},
			code: 0, stdout: []string{ok}, stderr: []string{"warning: no --key: using the key the server itself serves", "out of band"},
		},
		{
			name: "tampered entry",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				setup(t, f, dir)
				f.tampered = map[uint64]string{1: strings.Replace(string(f.events[1].Event), "admin-1", "admin-2", 1)}
			},
			args:   []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt", "--state", "$DIR/st.txt"},
			code:   1,
			stdout: []string{"FAIL: first bad entry 1: "},
			stderr: []string{"kith: audit verify: verification failed"},
			check: func(t *testing.T, _ *fakeAdmin, _ result, dir string) {
				wantOnlyFiles(t, dir, "key.txt") // no state saved
			},
		},
		{
			name: "tampered since the saved state",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				withState(t, f, dir)
				f.tampered = map[uint64]string{1: strings.Replace(string(f.events[1].Event), "admin-1", "admin-2", 1)}
			},
			args:   []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt", "--state", "$DIR/st.txt"},
			code:   1,
			stdout: []string{"FAIL: "},
			check: stateIs(func(f *fakeAdmin) string { // unchanged
				f.mu.Lock()
				defer f.mu.Unlock()
				return string(f.checkpoint(2))
			}),
		},
		{
			name: "state of another log",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				withState(t, f, dir)
				f.ledgerKey, f.ledgerVKey = newLedgerKey(t)
				mustWrite(t, filepath.Join(dir, "key.txt"), []byte(f.ledgerVKey), 0o644)
			},
			args:   []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt", "--state", "$DIR/st.txt"},
			code:   1,
			stderr: []string{"kith: state ", "st.txt: ledger: invalid checkpoint: not signed by"},
			check:  noRequests,
		},
		{
			name: "wrong key",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				setup(t, f, dir)
				_, other := newLedgerKey(t)
				mustWrite(t, filepath.Join(dir, "key.txt"), []byte(other), 0o644)
			},
			args: []string{"audit", "verify", "--log", "https://$ADDR", "--key-file", "$DIR/key.txt"},
			code: 1, stdout: []string{"FAIL: ", "not signed by"},
		},
	}
	runCases(t, tests)
}
