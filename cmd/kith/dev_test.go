package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/await"
)

// devPlatform is `kith dev` running in this process.
type devPlatform struct {
	data   string // its data folder
	addr   string // the admin API's host:port
	socket string // the Workload API, unix:///…
}

// startDev runs `kith dev` in-process on a free port, as a user would
// (the same run function, the same flags), until the test ends, and
// returns once its banner names the Workload API socket.
func startDev(t *testing.T) devPlatform {
	t.Helper()
	// Unix socket paths are short; keep the data folder near /tmp.
	dir, err := os.MkdirTemp("", "kd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithCancel(context.Background())
	out := &await.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--data", dir}, strings.NewReader(""), out, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("kith dev exited %d:\n%s", code, out)
			}
		case <-time.After(30 * time.Second):
			t.Error("kith dev did not stop")
		}
	})
	var d devPlatform
	sock := regexp.MustCompile(`SPIFFE_ENDPOINT_SOCKET=(unix://\S+)`)
	api := regexp.MustCompile(`admin API +https://(\S+)/v1`)
	data := regexp.MustCompile(`export KITH_DATA=(\S+)`)
	await.Until(t, "the dev banner", 60*time.Second, out.Wrote, func() bool {
		s := out.String()
		if m := sock.FindStringSubmatch(s); m != nil {
			d.socket = m[1]
		}
		if m := api.FindStringSubmatch(s); m != nil {
			d.addr = m[1]
		}
		if m := data.FindStringSubmatch(s); m != nil {
			d.data = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("kith dev exited %d:\n%s", code, s)
		default:
		}
		return d.socket != "" && d.addr != "" && d.data != ""
	})
	if d.data != dir {
		t.Fatalf("the banner says KITH_DATA=%s, want %s", d.data, dir)
	}
	return d
}

// TestDev runs, against one `kith dev`, the README's quickstart and what a
// workload does with the agent kith dev runs: fetch its SVIDs and bundles,
// check the agent's health, get tokens with its JWT-SVID and X509-SVID.
func TestDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
	d := startDev(t)
	t.Setenv("KITH_DATA", d.data)
	t.Run("quickstart", func(t *testing.T) { runQuickstart(t, d) })
	t.Run("workload", func(t *testing.T) { devWorkload(t, d) })
	t.Run("token", func(t *testing.T) { devTokens(t, d) })
}

// kithOK runs kith and fails t unless it exits 0; it returns stdout.
func kithOK(t *testing.T, args ...string) string {
	t.Helper()
	r := runKith(t, args...)
	if r.code != 0 {
		t.Fatalf("kith %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func devWorkload(t *testing.T, d devPlatform) {
	out := kithOK(t, "workload", "fetch", "x509", "--socket", d.socket)
	if !strings.Contains(out, "SPIFFE ID:      spiffe://example.org/dev-user") {
		t.Errorf("workload fetch x509:\n%s", out)
	}
	dir := t.TempDir()
	kithOK(t, "workload", "fetch", "x509", "--socket", d.socket, "--write", dir)
	for _, f := range []string{"svid.0.pem", "svid.0.key", "bundle.0.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--write: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "svid.0.key")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("svid.0.key has mode %v", fi.Mode().Perm())
	}
	out = kithOK(t, "workload", "fetch", "x509", "--socket", d.socket, "-o", "json")
	if !strings.Contains(out, `"spiffe_id": "spiffe://example.org/dev-user"`) {
		t.Errorf("workload fetch x509 -o json:\n%s", out)
	}
	tok := strings.TrimSpace(kithOK(t, "workload", "fetch", "jwt", "--socket", d.socket, "--audience", "https://payments.example", "--spiffe-id", "spiffe://example.org/dev-user"))
	if strings.Count(tok, ".") != 2 {
		t.Errorf("workload fetch jwt printed %q, not a JWT", tok)
	}
	out = kithOK(t, "workload", "fetch", "jwt", "--socket", d.socket, "--audience", "a1", "--audience", "a2", "--spiffe-id", "spiffe://example.org/dev-user", "-o", "yaml")
	if !strings.Contains(out, "audience:\n    - a1\n    - a2\n") {
		t.Errorf("workload fetch jwt -o yaml:\n%s", out)
	}
	out = kithOK(t, "workload", "fetch", "bundle", "--socket", d.socket)
	if !strings.Contains(out, `"example.org": {`) || !strings.Contains(out, `"use": "jwt-svid"`) {
		t.Errorf("workload fetch bundle:\n%s", out)
	}
	if pemOut := kithOK(t, "workload", "fetch", "bundle", "--socket", d.socket, "-o", "pem"); !x509.NewCertPool().AppendCertsFromPEM([]byte(pemOut)) {
		t.Errorf("workload fetch bundle -o pem:\n%s", pemOut)
	}
	if out := kithOK(t, "healthcheck", "--agent", "--socket", d.socket); !strings.Contains(out, "Agent is healthy") {
		t.Errorf("healthcheck --agent:\n%s", out)
	}
	// SPIFFE_ENDPOINT_SOCKET is the default, as for any SPIFFE tool.
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", d.socket)
	kithOK(t, "workload", "fetch", "jwt", "--audience", "x")
	if r := runKith(t, "workload", "fetch", "x509", "-o", "pem"); r.code != 2 || !strings.Contains(r.stderr, "-o must be table, json, yaml") {
		t.Errorf("workload fetch x509 -o pem: %d %s", r.code, r.stderr)
	}
}

func devTokens(t *testing.T, d devPlatform) {
	tokenURL := "https://" + d.addr + "/oauth2/token"
	for _, tc := range []struct{ method, flag string }{{"jwt_svid", "--jwt-svid"}, {"tls_client_auth", "--mtls"}} {
		t.Run(tc.method, func(t *testing.T) {
			kithOK(t, "client", "create", "--entry", "spiffe://example.org/dev-user", "--auth-method", tc.method, "--audience", "spiffe://example.org/orders")
			out := kithOK(t, "token", "fetch", tc.flag, "--workload-socket", d.socket, "--token-url", tokenURL, "-o", "json")
			if !strings.Contains(out, `"access_token": "eyJ`) {
				t.Errorf("token fetch %s:\n%s", tc.flag, out)
			}
		})
	}
}

// runQuickstart runs the commands of the README's quickstart, in order,
// against d: the block after "In another terminal:", with go run
// ./cmd/kith being this kith, run in-process. A command it cannot run
// fails the test, so that the README cannot show one nobody ran.
func runQuickstart(t *testing.T, d devPlatform) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	first, rest, ok := quickstartBlock(string(readme), "")
	if !ok || strings.TrimSpace(first) != "go run ./cmd/kith dev" {
		t.Fatalf("the quickstart's first block is %q, want go run ./cmd/kith dev", first)
	}
	block, _, ok := quickstartBlock(rest, "terminal:")
	if !ok {
		t.Fatal("README: no code block after \"In another terminal:\"")
	}
	vars := map[string]string{}
	expand := func(s string) string {
		s = strings.ReplaceAll(s, "127.0.0.1:8443", d.addr) // kith dev's default address
		return os.Expand(s, func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return os.Getenv(k)
		})
	}
	ran := 0
	for _, line := range strings.Split(block, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ran++
		words := strings.Fields(line)
		switch {
		case words[0] == "export" && strings.HasPrefix(words[1], "KITH_DATA="):
			// The value is what kith dev printed: its data folder.
			t.Setenv("KITH_DATA", d.data)
		case regexp.MustCompile(`^\w+=\$\(mktemp -d\)$`).MatchString(line):
			vars[strings.SplitN(line, "=", 2)[0]] = t.TempDir()
		case strings.HasPrefix(line, "go run ./cmd/kith "):
			args := strings.Fields(expand(strings.TrimPrefix(line, "go run ./cmd/kith ")))
			quickstartKith(t, line, args)
		case words[0] == "curl":
			quickstartCurl(t, line, strings.Fields(expand(line)))
		default:
			t.Errorf("README quickstart: a command this test cannot run: %q", line)
		}
	}
	if ran < 5 {
		t.Errorf("README quickstart: ran only %d commands", ran)
	}
}

// quickstartBlock returns the first ``` code block of s after the text
// after (anywhere when empty), and what follows it.
func quickstartBlock(s, after string) (block, rest string, ok bool) {
	if after != "" {
		if _, s, ok = strings.Cut(s, after); !ok {
			return "", "", false
		}
	}
	if _, s, ok = strings.Cut(s, "```"); !ok {
		return "", "", false
	}
	_, s, _ = strings.Cut(s, "\n") // the info string
	block, rest, ok = strings.Cut(s, "```")
	return block, rest, ok
}

// quickstartKith runs one kith command of the quickstart in-process; a
// command that follows (--follow) is stopped, as Ctrl-C would, once it
// has printed something.
func quickstartKith(t *testing.T, line string, args []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &await.Buffer{}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, strings.NewReader(""), out, &stderr) }()
	var code int
	follow := false
	for _, a := range args {
		follow = follow || a == "--follow" || a == "-f"
	}
	if follow {
		await.Until(t, line+" prints", 30*time.Second, out.Wrote, func() bool { return out.String() != "" })
		cancel()
	}
	select {
	case code = <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("README quickstart: %s did not end", line)
	}
	if code != 0 || strings.Contains(stderr.String(), "kith: ") {
		t.Errorf("README quickstart: %s: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, &stderr)
	}
}

// quickstartCurl does what the quickstart's curl --cacert FILE URL does,
// with Go's verifier, and with curl too where it is installed.
func quickstartCurl(t *testing.T, line string, words []string) {
	t.Helper()
	if len(words) != 4 || words[1] != "--cacert" {
		t.Fatalf("README quickstart: a curl this test does not know: %q", line)
	}
	pemBytes, err := os.ReadFile(words[2])
	if err != nil {
		t.Fatalf("README quickstart: %s: %v", line, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("README quickstart: %s: no certificate in %s", line, words[2])
	}
	tr := &http.Transport{}
	tr.TLSClientConfig = tlsWithRoots(roots)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(words[3])
	if err != nil {
		t.Fatalf("README quickstart: %s: %v", line, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("README quickstart: %s: %s", line, resp.Status)
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		if out, err := exec.Command(curl, "--silent", "--show-error", "--fail", "--cacert", words[2], words[3]).CombinedOutput(); err != nil {
			var ee *exec.ExitError
			errors.As(err, &ee)
			t.Errorf("README quickstart: %s: %v\n%s", line, err, out)
		}
	}
}

// tlsWithRoots is a TLS client configuration trusting roots only.
func tlsWithRoots(roots *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: roots} }
