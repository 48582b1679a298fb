package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
)

func TestAuditShow(t *testing.T) {
	three := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(3) }
	var ev1 api.Event
	func() { f := &fakeAdmin{}; f.addEvents(2); ev1 = f.events[1] }()
	runCases(t, []cliCase{
		{
			name:  "pretty event and leaf hash",
			setup: three,
			args:  []string{"audit", "show", "1"},
			code:  0,
			stdout: []string{"index:     1\n", "leaf hash: " + hex.EncodeToString(leafHash(ev1.Event)) + "\n",
				"{\n  \"index\": 1,\n  \"time\": \"2030-01-02T03:04:06Z\",\n  \"type\": \"svid.x509.minted\","},
			check: wantRequests("GET /v1/ledger/entries?end=2&start=1"),
		},
		{
			name:  "json keeps the exact leaf bytes",
			setup: three,
			args:  []string{"audit", "show", "1", "-o", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, e api.LedgerEntry) {
				if e.Index != 1 || string(compactJSON(t, e.Data)) != string(ev1.Event) || hex.EncodeToString(e.LeafHash) != hex.EncodeToString(leafHash(ev1.Event)) {
					t.Errorf("entry = %+v, want event 1", e)
				}
			}),
		},
		{name: "beyond the ledger", setup: three, args: []string{"audit", "show", "3"}, code: 1, stderr: []string{"get ledger entries [3, 4): 400"}},
		{name: "missing INDEX", args: []string{"audit", "show"}, code: 2, stderr: []string{"want 1 argument(s), got 0"}, check: noRequests},
		{name: "bad INDEX", args: []string{"audit", "show", "-1"}, code: 2, stderr: []string{"unknown flag -1"}, check: noRequests},
		{name: "INDEX not a number", args: []string{"audit", "show", "seven"}, code: 2, stderr: []string{`INDEX must be an event index such as 7, not "seven"`}, check: noRequests},
	})
}

func TestAuditKeyAndCheckpoint(t *testing.T) {
	three := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(3) }
	runCases(t, []cliCase{
		{name: "key", args: []string{"audit", "key"}, code: 0, check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
			if r.stdout != f.ledgerVKey+"\n" {
				t.Errorf("stdout = %q, want the verifier key alone", r.stdout)
			}
		}},
		{name: "key json", args: []string{"audit", "key", "-o", "json"}, code: 0, check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
			jsonOut(func(t *testing.T, k api.LedgerKey) {
				if k != (api.LedgerKey{Origin: fakeOrigin, VerifierKey: f.ledgerVKey}) {
					t.Errorf("key = %+v", k)
				}
			})(t, f, r, "")
		}},
		{name: "checkpoint as is", setup: three, args: []string{"audit", "checkpoint"}, code: 0, check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
			if want := string(f.latestCheckpoint()); r.stdout != want {
				t.Errorf("stdout = %q, want %q", r.stdout, want)
			}
			wantRequests("GET /v1/ledger/checkpoint")(t, f, r, "")
		}},
		{name: "wait for a covering checkpoint", setup: three, args: []string{"audit", "checkpoint", "--wait", "5s"}, code: 0,
			stdout: []string{fakeOrigin + "\n3\n"},
			check:  wantRequests("GET /v1/ledger/key", "GET /v1/ledger/checkpoint", "GET /v1/events?after=2&limit=1000")},
		{
			name:   "wait times out",
			setup:  func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(3); f.checkpointLag = 1 },
			args:   []string{"audit", "checkpoint", "--wait", "300ms"},
			code:   1,
			stderr: []string{"kith: wait for a checkpoint of size 3 (latest is 2): no checkpoint within 300ms"},
		},
		{name: "no checkpoint yet", args: []string{"audit", "checkpoint"}, code: 1, stderr: []string{"get checkpoint: 404 Not Found: the ledger has no checkpoint yet", "(or use --wait)"}},
		{name: "negative wait", args: []string{"audit", "checkpoint", "--wait", "-1s"}, code: 2, stderr: []string{"--wait must not be negative"}, check: noRequests},
		{name: "bad wait", args: []string{"audit", "checkpoint", "--wait", "soon"}, code: 2, stderr: []string{"--wait: invalid value \"soon\": want a duration"}, check: noRequests},
	})
}

func TestAuditProof(t *testing.T) {
	three := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(3) }
	runCases(t, []cliCase{
		{
			name:  "one line of JSON with the exact entry",
			setup: three,
			args:  []string{"audit", "proof", "2"},
			code:  0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				if strings.Count(r.stdout, "\n") != 1 {
					t.Errorf("stdout = %q, want one line", r.stdout)
				}
				var ev api.Evidence
				if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Index != 2 || string(ev.Entry) != string(f.events[2].Event) || ev.Checkpoint != string(f.latestCheckpoint()) || len(ev.Proof) != 1 {
					t.Errorf("evidence = %+v", ev)
				}
				wantRequests("GET /v1/ledger/evidence/2")(t, f, r, "")
			},
		},
		{name: "missing INDEX", args: []string{"audit", "proof"}, code: 2, stderr: []string{"want 1 argument(s), got 0"}, check: noRequests},
		{name: "two INDEXes", args: []string{"audit", "proof", "1", "2"}, code: 2, stderr: []string{"want 1 argument(s), got 2"}, check: noRequests},
		{name: "bad INDEX", args: []string{"audit", "proof", "1e3"}, code: 2, stderr: []string{"INDEX must be an event index"}, check: noRequests},
	})
}

// compactJSON compacts b or fails t.
func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
