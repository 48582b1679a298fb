package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
)

func TestAuditQuery(t *testing.T) {
	five := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(5) }
	runCases(t, []cliCase{
		{
			name:  "all filters",
			setup: five,
			args: []string{"audit", "query", "--type", "entry.created", "--actor", "admin-1", "--target", "e2", "--outcome", "success",
				"--since", "2030-01-02T03:04:05Z", "--until", "2030-01-03T00:00:00+01:00", "--after", "0", "--limit", "5"},
			code:   0,
			stdout: []string{"INDEX", "entry.created"},
			check: wantRequests("GET /v1/events?actor=admin-1&after=0&limit=5&outcome=success" +
				"&since=2030-01-02T03%3A04%3A05Z&target=e2&type=entry.created&until=2030-01-03T00%3A00%3A00%2B01%3A00"),
		},
		{
			name:  "json",
			setup: five,
			args:  []string{"audit", "query", "--type", "svid.x509.minted", "-o", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, l api.EventList) {
				if len(l.Events) != 2 || l.Events[0].Index != 1 || l.Events[1].Index != 3 {
					t.Errorf("events = %+v, want indexes 1 and 3", l.Events)
				}
			}),
		},
		{
			name:   "a full page hints at the next",
			setup:  five,
			args:   []string{"audit", "query", "--limit", "2"},
			code:   0,
			stderr: []string{"add --after 1"},
		},
		{name: "bad since", args: []string{"audit", "query", "--since", "yesterday"}, code: 2, stderr: []string{"--since must be an RFC 3339 time"}, check: noRequests},
		{name: "bad until", args: []string{"audit", "query", "--until", "2030-01-02"}, code: 2, stderr: []string{"--until must be an RFC 3339 time"}, check: noRequests},
		{name: "zero limit", args: []string{"audit", "query", "--limit", "0"}, code: 2, stderr: []string{"--limit must be positive"}, check: noRequests},
		{name: "bad after", args: []string{"audit", "query", "--after", "-7"}, code: 2, stderr: []string{"--after must be an event index"}, check: noRequests},
		{name: "argument", args: []string{"audit", "query", "x"}, code: 2, stderr: []string{"want 0 argument(s)"}, check: noRequests},
	})
}

func TestAuditExport(t *testing.T) {
	four := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(4) }
	runCases(t, []cliCase{
		{
			name:  "jsonl to stdout",
			setup: four,
			args:  []string{"audit", "export"},
			code:  0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				if lines := exportLines(r.stdout); len(lines) != 4 || !strings.HasPrefix(lines[0], `{"index":0,"event":{`) {
					t.Errorf("stdout = %q, want 4 JSON lines", r.stdout)
				}
				wantRequests("GET /v1/events/export?format=jsonl")(t, f, r, "")
			},
		},
		{
			name:  "csv with filters to a file",
			setup: four,
			args:  []string{"audit", "export", "--format", "csv", "--type", "entry.created", "--since", "2030-01-02T03:04:05Z", "--out", "$DIR/ev.csv"},
			code:  0,
			check: func(t *testing.T, f *fakeAdmin, r result, dir string) {
				if r.stdout != "" {
					t.Errorf("stdout = %q, want nothing", r.stdout)
				}
				path := filepath.Join(dir, "ev.csv")
				got := string(readFile(t, path))
				want := "index,time,type\n0,2030-01-02T03:04:05Z,entry.created\n2,2030-01-02T03:04:07Z,entry.created\n"
				if got != want {
					t.Errorf("ev.csv = %q, want %q", got, want)
				}
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("ev.csv mode = %v (%v), want 0644", fi.Mode(), err)
				}
				wantOnlyFiles(t, dir, "ev.csv")
				wantRequests("GET /v1/events/export?format=csv&since=2030-01-02T03%3A04%3A05Z&type=entry.created")(t, f, r, "")
			},
		},
		{
			name: "cut stream leaves no file",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				f.addEvents(4)
				f.cutExport = true
				mustWrite(t, filepath.Join(dir, "ev.jsonl"), []byte("old\n"), 0o644)
			},
			args:   []string{"audit", "export", "--out", "$DIR/ev.jsonl"},
			code:   1,
			stderr: []string{"kith: export events: stream cut off"},
			check: func(t *testing.T, _ *fakeAdmin, _ result, dir string) {
				if got := string(readFile(t, filepath.Join(dir, "ev.jsonl"))); got != "old\n" {
					t.Errorf("ev.jsonl = %q, want it untouched", got)
				}
				wantOnlyFiles(t, dir, "ev.jsonl")
			},
		},
		{name: "bad format", args: []string{"audit", "export", "--format", "xml"}, code: 2, stderr: []string{`--format must be jsonl or csv, not "xml"`}, check: noRequests},
		{name: "no -o flag", args: []string{"audit", "export", "-o", "json"}, code: 2, stderr: []string{"unknown flag -o"}, check: noRequests},
		{name: "bad since", args: []string{"audit", "export", "--since", "now"}, code: 2, stderr: []string{"--since must be an RFC 3339 time"}, check: noRequests},
		{name: "negative limit", args: []string{"audit", "export", "--limit", "-1"}, code: 2, stderr: []string{"--limit must not be negative"}, check: noRequests},
	})
}

// wantOnlyFiles checks that dir holds exactly the files names.
func wantOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("files in %s = %q, want %q", dir, got, names)
	}
}
