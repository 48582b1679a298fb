package main

import (
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
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
