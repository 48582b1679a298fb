package main

import (
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
