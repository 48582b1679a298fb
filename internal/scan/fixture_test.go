package scan

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/kith-dev/kith/internal/oauth"
)

// planted is a fixture tree written by plant: its folder and the values
// of its {{placeholders}}.
type planted struct {
	dir    string
	values map[string]string // placeholder → secret
	files  map[string]string // slash path → content, as written
}

// plant writes the files of testdata/name (a txtar archive) into a new
// folder, each {{placeholder}} replaced by a fresh secret of its kind
// (see secretOf), and returns it.
func plant(t testing.TB, name string) planted {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := planted{dir: t.TempDir(), values: map[string]string{}, files: map[string]string{}}
	placeholder := regexp.MustCompile(`\{\{([a-z0-9_]+)\}\}`)
	for _, f := range ar.Files {
		text := placeholder.ReplaceAllStringFunc(string(f.Data), func(m string) string {
			key := m[2 : len(m)-2]
			if _, ok := p.values[key]; !ok {
				p.values[key] = secretOf(t, key, p.values)
			}
			return p.values[key]
		})
		p.files[f.Name] = text
		path := filepath.Join(p.dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// secretOf makes a fresh secret for the placeholder key. Each has the
// shape and randomness its provider's tokens have, so gitleaks' rules
// (with their entropy thresholds) take it for real.
func secretOf(t testing.TB, key string, values map[string]string) string {
	t.Helper()
	switch key {
	case "aws_key":
		return "AKIA" + randomOf(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	case "github_token":
		return "ghp_" + randomOf(t, alnum, 36)
	case "slack_token":
		return "xoxb-" + randomOf(t, "0123456789", 12) + "-" + randomOf(t, "0123456789", 13) + "-" + randomOf(t, alnum, 24)
	case "private_key":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	case "kith_secret", "kith_history_secret":
		s, err := oauth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		return s.Reveal()
	case "kith_secret_base64":
		if _, ok := values["kith_secret"]; !ok {
			t.Fatal("kith_secret_base64 comes after kith_secret")
		}
		return base64.StdEncoding.EncodeToString([]byte(values["kith_secret"]))
	}
	t.Fatalf("no secret for placeholder %q", key)
	return ""
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomOf(t testing.TB, alphabet string, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// at returns the line and column (1-based) of the first line of text in
// the planted file name, and the column after text ends on its line.
func (p planted) at(t testing.TB, name, text string) (line, col, endCol int) {
	t.Helper()
	first, _, _ := strings.Cut(text, "\n")
	for i, l := range strings.Split(p.files[name], "\n") {
		if j := strings.Index(l, first); j >= 0 {
			return i + 1, j + 1, j + 1 + len(first)
		}
	}
	t.Fatalf("%s does not hold the text", name)
	return 0, 0, 0
}

// writeFile writes text to path.
func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// needGit skips the test when git is not installed.
func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: no history to scan")
	}
}

// git runs git in dir with a fixed identity and no user or system
// configuration, and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.org", "GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.org")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitPlanted makes p.dir a git repository: a first commit of the whole
// tree, then a second that removes deploy/history-only.yaml, whose secret
// is then only in the history. It returns the two commits.
func commitPlanted(t testing.TB, p planted) (first, second string) {
	t.Helper()
	git(t, p.dir, "init", "-q")
	git(t, p.dir, "add", ".")
	git(t, p.dir, "commit", "-q", "-m", "the project")
	first = git(t, p.dir, "rev-parse", "HEAD")
	git(t, p.dir, "rm", "-q", "deploy/history-only.yaml")
	git(t, p.dir, "commit", "-q", "-m", "remove the billing values")
	return first, git(t, p.dir, "rev-parse", "HEAD")
}
