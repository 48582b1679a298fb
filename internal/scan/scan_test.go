package scan

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/oauth"
)

// place is where a finding is, as a test expects it.
type place struct {
	Rule         string
	File         string // slash path in the tree
	Line, Column int
	EndColumn    int // 0: not checked (multi-line secrets)
	Commit       string
}

// placesOf returns where fs are, with files relative to dir.
func placesOf(t testing.TB, dir string, fs []Finding) []place {
	t.Helper()
	out := make([]place, 0, len(fs))
	for _, f := range fs {
		rel, ok := strings.CutPrefix(f.File, filepath.ToSlash(dir)+"/")
		if !ok {
			t.Errorf("finding in %s, outside the scanned %s", f.File, dir)
		}
		p := place{Rule: f.RuleID, File: rel, Line: f.Line, Column: f.Column, EndColumn: f.EndColumn, Commit: f.Commit}
		if f.EndLine != f.Line {
			p.EndColumn = 0
		}
		out = append(out, p)
	}
	return out
}

// expected is a secret of the planted tree: the rule that must find it,
// the file and the placeholder it is in, and whether it is base64-encoded
// there.
type expected struct {
	rule, file, key string
	encoded         bool
}

var plantedSecrets = []expected{
	{"slack-bot-token", "chat/notify.py", "slack_token", false},
	{"github-pat", "ci/release.sh", "github_token", false},
	{"aws-access-token", "config/app.env", "aws_key", false},
	{"kith-client-secret", "deploy/history-only.yaml", "kith_history_secret", false},
	{"kith-client-secret", "deploy/secret.yaml", "kith_secret", true},
	{"kith-client-secret", "deploy/values.yaml", "kith_secret", false},
	{"private-key", "keys/deploy.pem", "private_key", false},
}

// wantPlaces is where a scan of p must find its secrets: each in its
// file, and in the first commit (first) when one is given; the
// history-only secret only there.
func wantPlaces(t testing.TB, p planted, first string) []place {
	t.Helper()
	var out []place
	for _, e := range plantedSecrets {
		text := p.values[e.key]
		if e.encoded {
			text = p.values[e.key+"_base64"]
		}
		line, col, end := p.at(t, e.file, text)
		if strings.Contains(text, "\n") {
			end = 0
		}
		pl := place{Rule: e.rule, File: e.file, Line: line, Column: col, EndColumn: end}
		if e.file != "deploy/history-only.yaml" {
			out = append(out, pl)
		}
		if first != "" {
			pl.Commit = first
			out = append(out, pl)
		}
	}
	return out
}

func TestScanFindsPlantedSecrets(t *testing.T) {
	needGit(t)
	p := plant(t, "planted.txtar")
	first, _ := commitPlanted(t, p)
	rep, err := Scan(t.Context(), Config{Paths: []string{p.dir}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantPlaces(t, p, first), placesOf(t, p.dir, rep.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	wantSources := []Source{{p.dir, "files"}, {p.dir, "history"}}
	if diff := cmp.Diff(wantSources, rep.Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
	for _, f := range rep.Findings {
		if f.RuleID == RuleKithSecret {
			if f.Kith == nil || f.Kith.Status != StatusUnchecked {
				t.Errorf("%s: Kith status %+v, want unchecked (no checker)", f.Location(), f.Kith)
			}
			if f.secret.IsZero() {
				t.Errorf("%s: the Kith secret was not kept to be checked", f.Location())
			}
		} else if f.Kith != nil || !f.secret.IsZero() {
			t.Errorf("%s: a %s finding holds Kith data", f.Location(), f.RuleID)
		}
		if f.Commit != "" && f.Date == "" {
			t.Errorf("%s: no commit date", f.Location())
		}
		wantFP := path.Join(f.File) + ":" + f.RuleID + ":" + strconv.Itoa(f.Line)
		if f.Commit != "" {
			wantFP = f.Commit + ":" + wantFP
		}
		if f.Fingerprint != wantFP {
			t.Errorf("fingerprint %q, want %q", f.Fingerprint, wantFP)
		}
	}
}

func TestScanHistoryModes(t *testing.T) {
	needGit(t)
	p := plant(t, "planted.txtar")
	first, second := commitPlanted(t, p)
	historyOnly := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			if strings.HasSuffix(f.File, "history-only.yaml") {
				out = append(out, f.Commit)
			}
		}
		return out
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // commits of the history-only secret's findings
	}{
		{"every commit", Config{}, []string{first}},
		{"no history", Config{History: HistoryNone}, nil},
		{"log options select the second commit only", Config{LogOpts: first + ".." + second}, nil},
		{"log options that include the first", Config{LogOpts: second}, []string{first}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Paths = []string{p.dir}
			rep, err := Scan(t.Context(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, historyOnly(rep.Findings)); diff != "" {
				t.Errorf("history-only secret found in commits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanStaged(t *testing.T) {
	needGit(t)
	p := plant(t, "planted.txtar")
	commitPlanted(t, p)
	s, err := oauth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(p.dir, "new.env"), "KITH_CLIENT_SECRET="+s.Reveal()+"\n")
	writeFile(t, filepath.Join(p.dir, "unstaged.env"), "GITHUB_TOKEN=ghp_"+randomOf(t, alnum, 36)+"\n")
	git(t, p.dir, "add", "new.env")
	rep, err := Scan(t.Context(), Config{Paths: []string{p.dir}, History: HistoryStaged})
	if err != nil {
		t.Fatal(err)
	}
	want := []place{{Rule: RuleKithSecret, File: "new.env", Line: 1, Column: 20, EndColumn: 20 + len(s.Reveal())}}
	if diff := cmp.Diff(want, placesOf(t, p.dir, rep.Findings)); diff != "" {
		t.Errorf("staged findings (-want +got):\n%s", diff)
	}
}

func TestScanIgnoresLookalikes(t *testing.T) {
	p := plant(t, "lookalike.txtar")
	// The fixture must stay what it says: Kith-shaped strings, plain and
	// encoded, none with a valid checksum.
	shaped := regexp.MustCompile(`kith_sk_[0-9A-Za-z]{49}`)
	var n int
	for name, text := range p.files {
		for _, word := range append(strings.Fields(text), decodedWords(text)...) {
			for _, m := range shaped.FindAllString(word, -1) {
				n++
				if _, err := oauth.ParseSecret(m); err == nil {
					t.Errorf("%s holds a valid Kith secret; the fixture must hold look-alikes only", name)
				}
			}
		}
	}
	if n < 6 {
		t.Fatalf("the fixture holds %d Kith-shaped strings, want at least 6", n)
	}
	cfg := Config{Paths: []string{p.dir}}
	if _, err := exec.LookPath("git"); err == nil {
		git(t, p.dir, "init", "-q")
		git(t, p.dir, "add", ".")
		git(t, p.dir, "commit", "-q", "-m", "look-alikes")
	}
	rep, err := Scan(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		t.Errorf("reported a look-alike: %s %s (%s)", f.RuleID, f.Location(), f.Commit)
	}
}

// decodedWords returns the words of text that decode from base64 or hex.
func decodedWords(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		if b, err := base64.StdEncoding.DecodeString(w); err == nil {
			out = append(out, string(b))
		}
		if b, err := hex.DecodeString(w); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

func TestScanConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     Config
		wantCfg bool // the error wraps ErrConfig
	}{
		{"no path", Config{}, true},
		{"revoke without a server", Config{Paths: []string{dir}, Revoke: true}, true},
		{"staged outside a work tree", Config{Paths: []string{dir}, History: HistoryStaged}, true},
		{"log options outside a work tree", Config{Paths: []string{dir}, LogOpts: "HEAD"}, true},
		{"log options without history", Config{Paths: []string{dir}, LogOpts: "HEAD", History: HistoryNone}, true},
		{"unknown history mode", Config{Paths: []string{dir}, History: 7}, true},
		{"missing path", Config{Paths: []string{filepath.Join(dir, "nothing")}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Scan(t.Context(), tc.cfg)
			if err == nil || rep != nil {
				t.Fatalf("Scan = %v, %v; want an error", rep, err)
			}
			if errors.Is(err, ErrConfig) != tc.wantCfg {
				t.Errorf("error %v: wraps ErrConfig = %v, want %v", err, !tc.wantCfg, tc.wantCfg)
			}
		})
	}
}

func TestScanReportsFailingGit(t *testing.T) {
	needGit(t)
	p := plant(t, "planted.txtar")
	commitPlanted(t, p)
	_, err := Scan(t.Context(), Config{Paths: []string{p.dir}, LogOpts: "no-such-revision"})
	if err == nil || !strings.Contains(err.Error(), "git failed") {
		t.Fatalf("Scan with a git log that fails: %v, want git failed", err)
	}
}

func TestPreview(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AKIAABCDEFGHIJKLMNOP", "AKIA…"},
		{"kith_sk_abc", "kith_sk_…"},
		{"short", "…"},
		{"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----…"},
		{"ążśźćęłóńążśźćęłó", "ążśź…"},
	}
	for _, tc := range tests {
		if got := preview(tc.in); got != tc.want {
			t.Errorf("preview(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestColumns(t *testing.T) {
	tests := []struct {
		name, line, secret string
		start, end         int
	}{
		{"first line of a fragment", "token=abc", "abc", 7, 10},
		{"later line (gitleaks keeps the newline)", "\ntoken=abc", "abc", 7, 10},
		{"wide characters before", "𝄞=abc", "abc", 4, 7},
		{"multi-line secret", "key: -----BEGIN\nxyz\n-----END", "-----BEGIN\nxyz\n-----END", 6, 9},
		{"encoded", "data: " + base64.StdEncoding.EncodeToString([]byte("kith_sk_xyz")) + "\n", "kith_sk_xyz", 7, 23},
		{"not on the line", "other", "abc", 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start, end := columns(tc.line, tc.secret, !strings.Contains(tc.secret, "\n"))
			if start != tc.start || end != tc.end {
				t.Errorf("columns = %d, %d; want %d, %d", start, end, tc.start, tc.end)
			}
		})
	}
}

func TestHoldsKithSecret(t *testing.T) {
	shaped := "kith_sk_" + strings.Repeat("A", 49)
	tests := []struct {
		in   string
		want bool
	}{
		{shaped, true},
		{"secret: " + shaped, true},
		{"data: " + base64.StdEncoding.EncodeToString([]byte(shaped)), true},
		{"data: " + base64.RawURLEncoding.EncodeToString([]byte("x="+shaped)), true},
		{"data: " + hex.EncodeToString([]byte(shaped)), true},
		{"data: " + base64.StdEncoding.EncodeToString([]byte("ghp_"+strings.Repeat("A", 53))), false},
		{"AKIAABCDEFGHIJKLMNOP", false},
		{"kith_pk_" + strings.Repeat("A", 49), false},
	}
	for _, tc := range tests {
		if got := holdsKithSecret(tc.in); got != tc.want {
			t.Errorf("holdsKithSecret(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
