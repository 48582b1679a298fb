package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/await"
)

func TestAuditTail(t *testing.T) {
	five := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(5) }
	runCases(t, []cliCase{
		{
			name:  "last events across pages",
			setup: five,
			args:  []string{"audit", "tail", "--limit", "3"},
			code:  0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				if len(lines) != 4 || !strings.HasPrefix(lines[0], "INDEX") {
					t.Fatalf("stdout = %q, want a header and 3 lines", r.stdout)
				}
				wantFields := [][]string{
					{"2", "2030-01-02T03:04:07Z", "entry.created", "admin-1", "e2", "success"},
					{"3", "2030-01-02T03:04:08Z", "svid.x509.minted", "admin-1", "e3", "success"},
					{"4", "2030-01-02T03:04:09Z", "entry.created", "admin-1", "e4", "success"},
				}
				for i, want := range wantFields {
					if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
						t.Errorf("line %d = %q, want %q", i+1, got, want)
					}
				}
				wantRequests("GET /v1/events?limit=1000", "GET /v1/events?after=1&limit=1000",
					"GET /v1/events?after=3&limit=1000", "GET /v1/events?after=4&limit=1000")(t, f, r, "")
			},
		},
		{
			name:  "type filter, json",
			setup: five,
			args:  []string{"audit", "tail", "--type", "svid.x509.minted", "-o", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, l api.EventList) {
				if len(l.Events) != 2 || l.Events[0].Index != 1 || l.Events[1].Index != 3 {
					t.Errorf("events = %+v, want indexes 1 and 3", l.Events)
				}
			}),
		},
		{
			name:   "empty ledger",
			args:   []string{"audit", "tail"},
			code:   0,
			stdout: []string{"INDEX"},
		},
		{
			name:   "bad limit",
			args:   []string{"audit", "tail", "--limit", "0"},
			code:   2,
			stderr: []string{"--limit must be positive"},
		},
	})
}

// addTraffic appends to the fake ledger the events of a busy node: a
// decided call, a token issued and an SVID an agent minted, then an admin
// change.
func (f *fakeAdmin) addTraffic() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ev := range []struct{ typ, kind, id string }{
		{"call.decided", "workload", "spiffe://example.org/orders"},
		{"oauth.token.issued", "client", "ci_a"},
		{"svid.x509.minted", "agent", "spiffe://example.org/kith/agent/n1"},
		{"entry.updated", "admin", "admin-1"},
		{"call.decided", "workload", "spiffe://example.org/orders"},
	} {
		i := len(f.events)
		body := fmt.Sprintf(`{"index":%d,"time":%q,"type":%q,"actor":{"kind":%q,"id":%q},"target":"t%d","action":"x","outcome":"success"}`,
			i, fakeTime.Add(time.Duration(i)*time.Second).Format(time.RFC3339), ev.typ, ev.kind, ev.id, i)
		f.events = append(f.events, api.Event{Index: int64(i), Event: json.RawMessage(body)})
	}
}

// TestAuditTailChanges: by default tail shows changes, not the traffic
// that drowns them (decided calls, tokens issued, SVIDs agents mint);
// --calls adds the calls, --all shows everything, --type one type.
func TestAuditTailChanges(t *testing.T) {
	traffic := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(2); f.addTraffic() }
	types := func(want ...string) func(*testing.T, *fakeAdmin, result, string) {
		return jsonOut(func(t *testing.T, l api.EventList) {
			var got []string
			for _, e := range l.Events {
				var head struct{ Type string }
				json.Unmarshal(e.Event, &head)
				got = append(got, head.Type)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("types %q, want %q", got, want)
			}
		})
	}
	runCases(t, []cliCase{
		{name: "changes by default", setup: traffic, args: []string{"audit", "tail", "-o", "json"}, code: 0,
			check: types("entry.created", "svid.x509.minted", "entry.updated")},
		{name: "says what it hides", setup: traffic, args: []string{"audit", "tail"}, code: 0,
			stdout: []string{"entry.updated"}, stderr: []string{"--calls", "--all"}},
		{name: "with calls", setup: traffic, args: []string{"audit", "tail", "--calls", "-o", "json"}, code: 0,
			check: types("entry.created", "svid.x509.minted", "call.decided", "entry.updated", "call.decided")},
		{name: "all", setup: traffic, args: []string{"audit", "tail", "--all", "--limit", "4", "-o", "json"}, code: 0,
			check: types("oauth.token.issued", "svid.x509.minted", "entry.updated", "call.decided")},
		{name: "one type", setup: traffic, args: []string{"audit", "tail", "--type", "call.decided", "-o", "json"}, code: 0,
			check: types("call.decided", "call.decided")},
		{name: "type and all", setup: traffic, args: []string{"audit", "tail", "--type", "call.decided", "--all"}, code: 2,
			stderr: []string{"--type"}, check: noRequests},
	})
}

// TestAuditTailFollow: --follow prints what is recorded after the tail,
// as it comes, until interrupted.
func TestAuditTailFollow(t *testing.T) {
	f := newFakeAdmin(t)
	f.addEvents(1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr await.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"audit", "tail", "--follow", "--data", f.dataDir, "--addr", f.addr}, strings.NewReader(""), &stdout, &stderr)
	}()
	if !await.Signal(10*time.Second, stdout.Wrote, func() bool { return strings.Contains(stdout.String(), "e0") }) {
		t.Fatalf("the tail was not printed:\n%s%s", stdout.String(), stderr.String())
	}
	f.addTraffic()
	if !await.Signal(10*time.Second, stdout.Wrote, func() bool { return strings.Contains(stdout.String(), "entry.updated") }) {
		t.Fatalf("a new change was not printed:\n%s%s", stdout.String(), stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d after interruption\n%s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "call.decided") || strings.Count(stdout.String(), "INDEX") != 1 {
		t.Errorf("stdout:\n%s\nwant one header and no calls", stdout.String())
	}
}
