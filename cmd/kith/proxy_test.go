package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRunProxyFlags refuses incomplete command lines before touching any
// socket.
func TestRunProxyFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no sockets", []string{"--inbound", ":1=http://127.0.0.1:2", "--target", "spiffe://example.org/a"}, "--workload-socket"},
		{"nothing to proxy", []string{"--workload-socket", "/w", "--dataplane-socket", "/d"}, "--inbound, --outbound"},
		{"inbound without target", []string{"--workload-socket", "/w", "--dataplane-socket", "/d", "--inbound", ":1=http://x"}, "--target"},
		{"client id without token url", append(out1(), "--client-id", "c1"), "need --token-url"},
		{"scope without token url", append(out1(), "--scope", "read"), "need --token-url"},
		{"http token url", append(out1(), "--token-url", "http://kith.example.org/oauth2/token"), "not an https:// URL"},
		{"secret without client id", append(out1(), "--token-url", "https://kith.example.org/oauth2/token", "--client-secret-file", "/s"), "--client-secret-file needs --client-id"},
		{"token url without outbound", []string{"--workload-socket", "/w", "--dataplane-socket", "/d", "--inbound", ":1=http://x", "--target", "spiffe://example.org/a",
			"--token-url", "https://kith.example.org/oauth2/token"}, "for --outbound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runProxy(t.Context(), tt.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error()+errb.String(), tt.want) {
				t.Errorf("runProxy = %v (stderr %q), want an error about %s", err, errb.String(), tt.want)
			}
		})
	}
}

// out1 is a valid outbound command line without token flags.
func out1() []string {
	return []string{"--workload-socket", "/w", "--dataplane-socket", "/d", "--outbound", "127.0.0.1:0=127.0.0.1:1,spiffe://example.org/b"}
}

// TestProxyTokenFlags parses the outbound token flags into tokenFlags.
func TestProxyTokenFlags(t *testing.T) {
	var f proxyFlags
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	f.tokens.register(fs)
	args := []string{"--token-url", "https://kith.example.org/oauth2/token", "--client-id", "c1", "--client-secret-file", "/s",
		"--scope", "read", "--scope", "write", "--audience", "spiffe://example.org/b"}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := tokenFlags{tokenURL: "https://kith.example.org/oauth2/token", clientID: "c1", secretFile: "/s",
		scopes: multiFlag{"read", "write"}, audiences: multiFlag{"spiffe://example.org/b"}}
	if diff := cmp.Diff(want, f.tokens, cmp.AllowUnexported(tokenFlags{})); diff != "" {
		t.Errorf("tokenFlags (-want +got):\n%s", diff)
	}
	if err := f.tokens.check(fs, 1); err != nil {
		t.Errorf("check = %v, want nil", err)
	}
}

// TestProxyConfigFile: settings from a configuration file reach the
// proxy's checks like flags do.
func TestProxyConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "proxy.yaml")
	conf := "workload-socket: /w\ndataplane-socket: /d\ninbound: 127.0.0.1:0=http://127.0.0.1:1\nscope: [read, write]\n"
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	err := runProxy(t.Context(), []string{"--config", file}, io.Discard, &errb)
	if err == nil || !strings.Contains(err.Error(), "--target") {
		t.Errorf("runProxy = %v, want the inbound from the file to need --target", err)
	}
	err = runProxy(t.Context(), []string{"--config", file, "--target", "spiffe://example.org/a"}, io.Discard, &errb)
	if err == nil || !strings.Contains(err.Error(), "need --token-url") {
		t.Errorf("runProxy = %v, want the file's scopes to need --token-url", err)
	}
}
