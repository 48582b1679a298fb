package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
)

// wantEntry returns a check that the stored entry id equals want, ignoring
// server-set times.
func wantEntry(id string, want api.Entry) func(*testing.T, *fakeAdmin, result, string) {
	return func(t *testing.T, f *fakeAdmin, _ result, _ string) {
		t.Helper()
		got, ok := f.entry(id)
		if !ok {
			t.Fatalf("entry %s not stored", id)
		}
		got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored entry (-want +got):\n%s", diff)
		}
	}
}

// jsonOut returns a check that stdout is JSON decoding into a T that
// satisfies ok.
func jsonOut[T any](ok func(*testing.T, T)) func(*testing.T, *fakeAdmin, result, string) {
	return func(t *testing.T, _ *fakeAdmin, r result, _ string) {
		t.Helper()
		var v T
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("stdout is not a %T: %v\n%s", v, err, r.stdout)
		}
		ok(t, v)
	}
}

func TestEntryCreate(t *testing.T) {
	runCases(t, []cliCase{
		{
			name: "all flags",
			args: []string{"entry", "create", "--spiffe-id", "spiffe://example.org/web",
				"--selector", "unix:uid:1000", "--selector", "unix:gid:50", "--parent", "spiffe://example.org/agent/n1",
				"--owner", "team-web", "--business-function", "storefront", "--description", "the shop",
				"--max-scope", "orders:read,orders:write", "--max-scope", "stock:read",
				"--x509-ttl", "1h", "--jwt-ttl", "5m", "--label", "env=prod", "--label", "tier=front", "--status", "disabled"},
			code:   0,
			stdout: []string{"ID:", "e1", "SPIFFE ID:", "spiffe://example.org/web", "Selectors:", "unix:uid:1000,unix:gid:50", "X509-SVID TTL:", "1h0m0s", "Labels:", "env=prod,tier=front"},
			check: wantEntry("e1", api.Entry{
				ID: "e1", SPIFFEID: "spiffe://example.org/web", ParentID: "spiffe://example.org/agent/n1",
				Selectors: []string{"unix:uid:1000", "unix:gid:50"}, Owner: "team-web", BusinessFunction: "storefront",
				Description: "the shop", MaxScopes: []string{"orders:read", "orders:write", "stock:read"},
				X509SVIDTTL: api.Duration(time.Hour), JWTSVIDTTL: api.Duration(5 * time.Minute),
				Labels: map[string]string{"env": "prod", "tier": "front"}, Status: "disabled", Revision: 1,
			}),
		},
		{
			name: "minimal, json output",
			args: []string{"entry", "create", "--spiffe-id", "spiffe://example.org/api", "--selector", "k8s:ns:shop", "-o", "json"},
			code: 0,
			check: jsonOut(func(t *testing.T, e api.Entry) {
				if e.ID != "e1" || e.SPIFFEID != "spiffe://example.org/api" || e.Status != "active" || e.Revision != 1 {
					t.Errorf("entry = %+v", e)
				}
			}),
		},
		{
			name:   "missing spiffe id",
			args:   []string{"entry", "create", "--selector", "unix:uid:1"},
			code:   2,
			stderr: []string{"kith: entry create: --spiffe-id is required"},
			check:  noRequests,
		},
		{
			name:   "missing selector",
			args:   []string{"entry", "create", "--spiffe-id", "spiffe://example.org/api"},
			code:   2,
			stderr: []string{"at least one --selector is required"},
			check:  noRequests,
		},
		{
			name:   "bad label",
			args:   []string{"entry", "create", "--spiffe-id", "spiffe://example.org/api", "--selector", "a:b", "--label", "novalue"},
			code:   2,
			stderr: []string{`label "novalue" is not key=value`},
			check:  noRequests,
		},
		{
			name:   "refused by the server",
			args:   []string{"entry", "create", "--spiffe-id", "spiffe://example.org/refused", "--selector", "a:b"},
			code:   1,
			stderr: []string{"kith: create entry: 400 Bad Request: spiffe_id: refused by the test server\n"},
		},
	})
}

func TestEntryList(t *testing.T) {
	five := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEntries(5) }
	runCases(t, []cliCase{
		{
			name:   "follows pages",
			setup:  five,
			args:   []string{"entry", "list"},
			code:   0,
			stdout: []string{"ID  ", "SPIFFE ID", "e1", "e3", "e5", "spiffe://example.org/w5", "unix:uid:1005", "team-a"},
			check:  wantRequests("GET /v1/entries", "GET /v1/entries?after=e2", "GET /v1/entries?after=e4"),
		},
		{
			name:   "one page with limit",
			setup:  five,
			args:   []string{"entry", "list", "--limit", "3"},
			code:   0,
			stdout: []string{"e1", "e3"},
			stderr: []string{"More entries: kith entry list --limit 3 --after e3"},
			check:  wantRequests("GET /v1/entries?limit=3"),
		},
		{
			name:  "filters",
			setup: five,
			args:  []string{"entry", "list", "--spiffe-id", "spiffe://example.org/w2", "--parent", "spiffe://example.org/agent", "--status", "active"},
			code:  0,
			check: wantRequests("GET /v1/entries?parent_id=spiffe%3A%2F%2Fexample.org%2Fagent&spiffe_id=spiffe%3A%2F%2Fexample.org%2Fw2&status=active"),
		},
		{
			name:  "json",
			setup: five,
			args:  []string{"entry", "list", "--output", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, l api.EntryList) {
				if len(l.Entries) != 5 || l.Next != "" {
					t.Errorf("got %d entries, next %q; want 5, none", len(l.Entries), l.Next)
				}
			}),
		},
		{
			name: "json when empty",
			args: []string{"entry", "list", "-o", "json"},
			code: 0,
			check: func(t *testing.T, _ *fakeAdmin, r result, _ string) {
				if !strings.Contains(r.stdout, `"entries": []`) {
					t.Errorf("stdout = %s, want an empty entries array", r.stdout)
				}
			},
		},
		{
			name:   "negative limit",
			args:   []string{"entry", "list", "--limit", "-1"},
			code:   2,
			stderr: []string{"--limit must not be negative"},
		},
	})
}

func TestEntryShowDelete(t *testing.T) {
	two := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEntries(2) }
	runCases(t, []cliCase{
		{
			name:   "show",
			setup:  two,
			args:   []string{"entry", "show", "e2"},
			code:   0,
			stdout: []string{"ID:                 e2\n", "SPIFFE ID:          spiffe://example.org/w2\n", "Parent ID:          -\n", "X509-SVID TTL:      server default\n", "Revision:           1\n"},
		},
		{
			name:  "show, flag after the ID",
			setup: two,
			args:  []string{"entry", "show", "e1", "-o", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, e api.Entry) {
				if e.ID != "e1" {
					t.Errorf("ID = %q, want e1", e.ID)
				}
			}),
		},
		{
			name:   "show missing",
			args:   []string{"entry", "show", "nope"},
			code:   1,
			stderr: []string{"kith: get entry nope: 404 Not Found: no entry nope"},
		},
		{
			name:   "show without ID",
			args:   []string{"entry", "show"},
			code:   2,
			stderr: []string{"want 1 argument(s), got 0"},
		},
		{
			name:   "show two IDs",
			args:   []string{"entry", "show", "a", "b"},
			code:   2,
			stderr: []string{"want 1 argument(s), got 2"},
		},
		{
			name:   "delete",
			setup:  two,
			args:   []string{"entry", "delete", "e1"},
			code:   0,
			stdout: []string{"Deleted entry e1."},
			check: func(t *testing.T, f *fakeAdmin, _ result, _ string) {
				if _, ok := f.entry("e1"); ok {
					t.Error("e1 still stored")
				}
				if _, ok := f.entry("e2"); !ok {
					t.Error("e2 deleted too")
				}
			},
		},
		{
			name:   "delete missing",
			args:   []string{"entry", "delete", "e9"},
			code:   1,
			stderr: []string{"kith: delete entry e9: 404 Not Found"},
		},
	})
}

func TestEntryUpdate(t *testing.T) {
	one := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEntries(1) }
	stored := api.Entry{
		ID: "e1", SPIFFEID: "spiffe://example.org/w1", Selectors: []string{"unix:uid:1001"},
		Status: "active", Owner: "team-a", Labels: map[string]string{"env": "prod"}, Revision: 2,
	}
	with := func(change func(e *api.Entry)) api.Entry {
		e := stored
		change(&e)
		return e
	}
	runCases(t, []cliCase{
		{
			name:   "given fields only",
			setup:  one,
			args:   []string{"entry", "update", "e1", "--owner", "team-b", "--x509-ttl", "30m"},
			code:   0,
			stdout: []string{"Owner:", "team-b", "Revision:", "2"},
			check: wantEntry("e1", with(func(e *api.Entry) {
				e.Owner = "team-b"
				e.X509SVIDTTL = api.Duration(30 * time.Minute)
			})),
		},
		{
			name:  "lists replace",
			setup: one,
			args:  []string{"entry", "update", "--selector", "unix:uid:2", "--selector", "unix:gid:3", "--label", "tier=back", "e1"},
			code:  0,
			check: wantEntry("e1", with(func(e *api.Entry) {
				e.Selectors = []string{"unix:uid:2", "unix:gid:3"}
				e.Labels = map[string]string{"tier": "back"}
			})),
		},
		{
			name:  "clear and empty a string",
			setup: one,
			args:  []string{"entry", "update", "e1", "--clear-labels", "--owner", ""},
			code:  0,
			check: wantEntry("e1", with(func(e *api.Entry) {
				e.Labels = nil
				e.Owner = ""
			})),
		},
		{
			name:   "nothing to change",
			setup:  one,
			args:   []string{"entry", "update", "e1", "-o", "json"},
			code:   2,
			stderr: []string{"nothing to change"},
			check:  noRequests,
		},
		{
			name: "stale revision",
			setup: func(_ *testing.T, f *fakeAdmin, _ string) {
				f.addEntries(1)
				f.conflictOnPut = true
			},
			args:   []string{"entry", "update", "e1", "--owner", "x"},
			code:   1,
			stderr: []string{"kith: update entry e1: 409 Conflict: the entry changed since it was read"},
			check:  wantRequests("GET /v1/entries/e1", "PUT /v1/entries/e1"),
		},
		{
			name:   "missing entry",
			args:   []string{"entry", "update", "e7", "--owner", "x"},
			code:   1,
			stderr: []string{"kith: get entry e7: 404"},
		},
	})
}
