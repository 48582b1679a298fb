package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/internal/scan"
)

// TestScanExitStatus: kith scan exits 0 when nothing is found, 3 when
// secrets are, 4 when a live Kith secret is (the code travels in the
// error), 2 for a usage mistake. Live secrets against a real server are
// in internal/server's TestScanRevokesLeakedSecrets.
func TestScanExitStatus(t *testing.T) {
	clean := t.TempDir()
	if err := os.WriteFile(filepath.Join(clean, "main.go"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	leaky := t.TempDir()
	// An AWS access key ID of the right shape and randomness, assembled
	// here so that this file holds none.
	key := "AKIA" + strings.ToUpper("q7rt2mzx4kbwn5vh")
	if err := os.WriteFile(filepath.Join(leaky, "app.env"), []byte("AWS_ACCESS_KEY_ID="+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"nothing found", []string{"scan", "--offline", clean}, 0},
		{"a secret found", []string{"scan", "--offline", leaky}, scan.ExitFound},
		{"no path", []string{"scan", "--offline"}, 2},
		{"unknown format", []string{"scan", "--offline", "-o", "xml", clean}, 2},
		{"missing path", []string{"scan", "--offline", filepath.Join(clean, "none")}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runKith(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tc.code, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, key) {
				t.Error("the secret was printed")
			}
		})
	}
	var stderr bytes.Buffer
	live := &scan.FoundError{Summary: scan.Summary{Found: 1, Kith: 1, Live: 1}}
	if code := exitCode(live, &stderr); code != scan.ExitLive || !strings.Contains(stderr.String(), "1 live") {
		t.Errorf("a live Kith secret: exit %d, %q; want %d", code, stderr.String(), scan.ExitLive)
	}
}
