package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript scenarios run the kith command in-process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"kith": main})
}

// result is what one run of kith did.
type result struct {
	code           int
	stdout, stderr string
}

// runKith runs kith with args.
func runKith(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliCase is one kith invocation against a fresh fake admin API.
type cliCase struct {
	name  string
	setup func(t *testing.T, f *fakeAdmin, dir string) // optional
	// args are kith's arguments; "$DIR" in them becomes a temporary folder
	// and "$ADDR" the fake admin API's host:port.
	args   []string
	code   int
	stdout []string                                               // substrings stdout must hold
	stderr []string                                               // substrings stderr must hold
	check  func(t *testing.T, f *fakeAdmin, r result, dir string) // optional
}

// runCases runs each case as a subtest.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAdmin(t)
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, f, dir)
			}
			args := make([]string, len(tc.args))
			vars := strings.NewReplacer("$DIR", dir, "$ADDR", f.addr)
			for i, a := range tc.args {
				args[i] = vars.Replace(a)
			}
			r := runKith(t, args...)
			if r.code != tc.code {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, fakeToken) {
				t.Errorf("output contains the admin token")
			}
			if tc.check != nil {
				tc.check(t, f, r, dir)
			}
		})
	}
}

// noRequests checks that kith did not call the admin API.
func noRequests(t *testing.T, f *fakeAdmin, _ result, _ string) {
	t.Helper()
	if reqs := f.requestLog(); len(reqs) != 0 {
		t.Errorf("requests sent: %v", reqs)
	}
}

// wantRequests returns a check that kith made exactly the requests want.
func wantRequests(want ...string) func(*testing.T, *fakeAdmin, result, string) {
	return func(t *testing.T, f *fakeAdmin, _ result, _ string) {
		t.Helper()
		got := f.requestLog()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// readFile reads a file or fails t.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
