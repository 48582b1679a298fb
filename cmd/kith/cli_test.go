package main

import (
	"strings"
	"testing"
)

func TestTopLevel(t *testing.T) {
	runCases(t, []cliCase{
		{name: "no arguments", code: 2, stderr: []string{"Usage: kith <command>", "entry", "federation"}, check: noRequests},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"Commands:", "svid", "audit"}},
		{name: "-h", args: []string{"-h"}, code: 0, stdout: []string{"Commands:"}},
		{name: "help of a group", args: []string{"help", "entry"}, code: 0, stdout: []string{"Usage: kith entry <command>", "update"}},
		{name: "help of a command", args: []string{"entry", "create", "-h"}, code: 0, stderr: []string{"Usage: kith entry create", "-selector"}, check: noRequests},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: []string{`kith: unknown command "bogus"`, "Commands:"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"kith ", "go1."}},
		{name: "version with argument", args: []string{"version", "x"}, code: 2, stderr: []string{"want 0 argument(s), got 1"}},
		{name: "group without command", args: []string{"entry"}, code: 2, stderr: []string{"kith: entry: missing command", "Commands:"}},
		{name: "unknown group command", args: []string{"federation", "frob"}, code: 2, stderr: []string{`kith: federation: unknown command "frob"`}},
		{name: "bad output format", args: []string{"entry", "list", "-o", "xml"}, code: 2, stderr: []string{`-o must be table, json or yaml, not "xml"`}, check: noRequests},
	})
}

func TestConnection(t *testing.T) {
	runCases(t, []cliCase{
		{
			name:   "wrong token",
			setup:  func(t *testing.T, _ *fakeAdmin, _ string) { t.Setenv("KITH_ADMIN_TOKEN", "not-the-token") },
			args:   []string{"entry", "list"},
			code:   1,
			stderr: []string{"kith: list entries: 401 Unauthorized"},
		},
		{
			name:   "wrong trust domain",
			args:   []string{"entry", "list", "--trust-domain", "other.org"},
			code:   1,
			stderr: []string{"kith: list entries:", `server certificate is for trust domain "example.org", want "other.org"`},
			check:  noRequests,
		},
		{
			name: "wrong roots",
			setup: func(t *testing.T, _ *fakeAdmin, dir string) {
				mustWrite(t, dir+"/other.pem", newOtherCAPEM(t), 0o644)
			},
			args:   []string{"bundle", "show", "--ca-bundle", "$DIR/other.pem"},
			code:   1,
			stderr: []string{"kith: get bundle:", "certificate signed by unknown authority"},
			check:  noRequests,
		},
		{
			name:   "no data folder",
			args:   []string{"entry", "list", "--data", "$DIR/nowhere"},
			code:   1,
			stderr: []string{"kith: no admin token: set KITH_ADMIN_TOKEN, or point --data"},
			check:  noRequests,
		},
		{
			name: "addr and token from the environment",
			setup: func(t *testing.T, f *fakeAdmin, dir string) {
				t.Setenv("KITH_DATA", dir) // empty: all else from the environment
				t.Setenv("KITH_ADDR", f.addr)
				t.Setenv("KITH_ADMIN_TOKEN", fakeToken)
				t.Setenv("KITH_TRUST_DOMAIN", fakeTD)
				t.Setenv("KITH_CA_BUNDLE", f.dataDir+"/bundle.pem")
			},
			args:  []string{"federation", "list"},
			code:  0,
			check: wantRequests("GET /v1/federations"),
		},
	})
}

func TestUsageErrorText(t *testing.T) {
	r := runKith(t, "entry", "show")
	if r.code != 2 {
		t.Fatalf("exit code = %d, want 2", r.code)
	}
	want := "kith: entry show: want 1 argument(s), got 0 (see 'kith entry show -h')\n"
	if !strings.HasSuffix(r.stderr, want) {
		t.Errorf("stderr = %q, want it to end with %q", r.stderr, want)
	}
}
