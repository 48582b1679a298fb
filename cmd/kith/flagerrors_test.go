package main

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
)

// TestFlagErrors: a mistake in a flag or command is said once, in one or
// two lines naming the flag as typed, with a suggestion when one is near,
// and without the command's whole help.
func TestFlagErrors(t *testing.T) {
	short := func(t *testing.T, f *fakeAdmin, r result, _ string) {
		t.Helper()
		if strings.Contains(r.stderr, "Usage:") || strings.Count(r.stderr, "\n") > 2 {
			t.Errorf("stderr is more than the error:\n%s", r.stderr)
		}
		noRequests(t, f, r, "")
	}
	runCases(t, []cliCase{
		{name: "unknown flag with a near one", args: []string{"entry", "create", "--selectors", "unix:uid:1"}, code: 2,
			stderr: []string{"kith: entry create: unknown flag --selectors (did you mean --selector?) (see 'kith entry create -h')\n"}, check: short},
		{name: "unknown flag", args: []string{"entry", "list", "--frob"}, code: 2,
			stderr: []string{"kith: entry list: unknown flag --frob (see 'kith entry list -h')\n"}, check: short},
		{name: "flag without its value", args: []string{"entry", "list", "--status"}, code: 2,
			stderr: []string{"entry list: --status needs a value"}, check: short},
		{name: "bad value", args: []string{"agent", "token", "create", "--ttl", "soon"}, code: 2,
			stderr: []string{`agent token create: --ttl: invalid value "soon": want a duration such as 90s, 15m, 1h or 7d`}, check: short},
		{name: "bad boolean", args: []string{"svid", "mint", "--jwt=maybe"}, code: 2,
			stderr: []string{`svid mint: --jwt: invalid value "maybe"`}, check: short},
		{name: "subcommand with a near one", args: []string{"entry", "lst"}, code: 2,
			stderr: []string{`kith: entry: unknown command "lst" (did you mean "list"?)`}, check: short},
		{name: "command with a near one", args: []string{"entyr", "list"}, code: 2,
			stderr: []string{`kith: unknown command "entyr" (did you mean "entry"?)`}, check: short},
	})
}

// TestDurationFlags: durations take days too, as TTLs are often counted
// in them.
func TestDurationFlags(t *testing.T) {
	runCases(t, []cliCase{
		{
			name: "days",
			args: []string{"entry", "create", "--spiffe-id", "spiffe://example.org/web", "--selector", "unix:uid:1", "--x509-ttl", "1d", "--jwt-ttl", "1d12h"},
			code: 0,
			check: func(t *testing.T, f *fakeAdmin, _ result, _ string) {
				e, ok := f.entry("e1")
				if !ok || e.X509SVIDTTL != api.Duration(24*time.Hour) || e.JWTSVIDTTL != api.Duration(36*time.Hour) {
					t.Errorf("entry = %+v, want TTLs 24h and 36h", e)
				}
			},
		},
		{name: "help says so", args: []string{"entry", "create", "-h"}, code: 0, stderr: []string{"-x509-ttl duration", "7d"}},
	})
}

// TestHelpOfSubcommand: kith help GROUP COMMAND is kith GROUP COMMAND -h.
func TestHelpOfSubcommand(t *testing.T) {
	runCases(t, []cliCase{
		{name: "help entry create", args: []string{"help", "entry", "create"}, code: 0, stderr: []string{"Usage: kith entry create", "-selector"}, check: noRequests},
		{name: "entry help create", args: []string{"entry", "help", "create"}, code: 0, stderr: []string{"Usage: kith entry create"}, check: noRequests},
	})
}

// TestUniformOutput: -o json where it was missing, one format flag for
// bundle show (--format kept as a deprecated alias), --addr as a URL.
func TestUniformOutput(t *testing.T) {
	three := func(_ *testing.T, f *fakeAdmin, _ string) { f.addEvents(3) }
	runCases(t, []cliCase{
		{name: "checkpoint json", setup: three, args: []string{"audit", "checkpoint", "-o", "json"}, code: 0,
			check: func(t *testing.T, f *fakeAdmin, r result, _ string) {
				jsonOut(func(t *testing.T, cp checkpointJSON) {
					if cp.Origin != fakeOrigin || cp.Size != 3 || len(cp.RootHash) != 64 || cp.Checkpoint != string(f.latestCheckpoint()) {
						t.Errorf("checkpoint = %+v", cp)
					}
				})(t, f, r, "")
			}},
		{name: "version json", args: []string{"version", "-o", "json"}, code: 0,
			check: jsonOut(func(t *testing.T, v versionJSON) {
				if v.Version == "" || !strings.HasPrefix(v.Go, "go1.") {
					t.Errorf("version = %+v", v)
				}
			})},
		{name: "bundle show -o pem", args: []string{"bundle", "show", "-o", "pem"}, code: 0, stdout: []string{"-----BEGIN CERTIFICATE-----"}},
		{name: "bundle show --format pem, deprecated", args: []string{"bundle", "show", "--format", "pem"}, code: 0,
			stdout: []string{"-----BEGIN CERTIFICATE-----"}, stderr: []string{"--format is deprecated: use -o pem"}},
		{name: "bundle show -o xml", args: []string{"bundle", "show", "-o", "xml"}, code: 2, stderr: []string{`-o must be json, yaml or pem, not "xml"`}, check: noRequests},
		{name: "bundle show -o yaml", args: []string{"bundle", "show", "-o", "yaml"}, code: 0, stdout: []string{"keys:\n  - use: x509-svid\n", "    kty: EC\n"}},
		{name: "entry list -o yaml", setup: func(_ *testing.T, f *fakeAdmin, _ string) { f.addEntries(1) },
			args: []string{"entry", "list", "-o", "yaml"}, code: 0, stdout: []string{"entries:\n  - id: e1\n", "    spiffe_id: spiffe://example.org/w1\n", "      env: prod\n"}},
		{name: "version yaml", args: []string{"version", "-o", "yaml"}, code: 0, stdout: []string{"version: ", "go: go1."}},
		{name: "audit types yaml", args: []string{"audit", "types", "-o", "yaml"}, code: 0, stdout: []string{"- type: entry.created\n"}},
		{name: "checkpoint yaml", setup: three, args: []string{"audit", "checkpoint", "-o", "yaml"}, code: 0, stdout: []string{"size: 3\n", "checkpoint: |"}},
		{name: "addr as a URL", args: []string{"federation", "list", "--addr", "https://$ADDR"}, code: 0, check: wantRequests("GET /v1/federations")},
		{name: "addr as a URL with a slash", args: []string{"federation", "list", "--addr", "https://$ADDR/"}, code: 0, check: wantRequests("GET /v1/federations")},
		{name: "addr over http", args: []string{"federation", "list", "--addr", "http://$ADDR"}, code: 1, stderr: []string{"https"}, check: noRequests},
	})
}

func TestVersionOf(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"},
		{Key: "vcs.time", Value: "2030-01-02T03:04:05Z"},
	}}
	v := versionOf(bi, true)
	if want := (versionJSON{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", Modified: true, CommitTime: "2030-01-02T03:04:05Z", Go: "go1.99"}); v != want {
		t.Errorf("versionOf = %+v, want %+v", v, want)
	}
	if got, want := v.text(), "kith v1.2.3 commit 0123456789ab+modified (2030-01-02T03:04:05Z) go1.99"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	bare := versionOf(&debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}, true)
	if got, want := bare.text(), "kith (devel) commit unknown (built without VCS information) go1.99"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}
