package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/scan"
)

// TestScanRevokesLeakedSecrets runs kith scan's Run against a real server:
// two clients' secrets leaked in a git repository, one in a file, the
// other only in a commit since undone. Checked and revoked, both stop
// working; the ledger records each leak with where it was found and not
// the secret; the entry's trust falls. A second scan finds them
// again, now unknown to the server: secrets found, none live.
func TestScanRevokesLeakedSecrets(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	e := newOAuthEnv(t)
	inFile := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, Audiences: []string{"spiffe://example.org/billing"}})
	inHistory := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, AuthMethod: "client_secret_post",
		Audiences: []string{"spiffe://example.org/billing"}})

	repo := t.TempDir()
	gitRun(t, repo, "init", "-q")
	writeTestFile(t, filepath.Join(repo, "deploy", "old.env"), "BILLING_SECRET="+inHistory.Secret+"\n")
	gitRun(t, repo, "add", ".")
	gitRun(t, repo, "commit", "-q", "-m", "billing settings")
	leakCommit := gitRun(t, repo, "rev-parse", "HEAD")
	gitRun(t, repo, "rm", "-q", "deploy/old.env")
	gitRun(t, repo, "commit", "-q", "-m", "oops")
	values := "orders:\n  client_id: " + inFile.Client.ID + "\n  client_secret: " + inFile.Secret + "\n"
	writeTestFile(t, filepath.Join(repo, "deploy", "values.yaml"), values) // not committed

	admin, err := adminclient.New(adminclient.Config{Addr: e.Addr(), Token: adminclient.NewToken(e.token),
		Roots: e.CA().X509Authorities(), TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	run := func() (*scan.FoundError, []byte) {
		t.Helper()
		var out, stderr bytes.Buffer
		err := scan.Run(t.Context(), scan.RunConfig{Config: scan.Config{Paths: []string{repo}, Checker: admin, Revoke: true},
			Format: scan.FormatJSON, Out: &out, Stderr: &stderr})
		var fe *scan.FoundError
		if !errors.As(err, &fe) {
			t.Fatalf("scan.Run = %v, want a FoundError; stderr: %s", err, stderr.String())
		}
		return fe, out.Bytes()
	}

	fe, out := run()
	if fe.ExitCode() != scan.ExitLive || fe.Summary.Live != 2 || fe.Summary.Revoked != 2 {
		t.Errorf("first scan: exit %d, %+v; want %d with both secrets live and revoked", fe.ExitCode(), fe.Summary, scan.ExitLive)
	}
	var rep struct{ Findings []scan.Finding }
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	clients := map[string]string{} // location → client
	for _, f := range rep.Findings {
		if f.Kith == nil || f.Kith.Status != scan.StatusLive || !f.Kith.Revoked || f.Kith.SPIFFEID != "spiffe://example.org/orders" {
			t.Errorf("%s: %+v", f.Location(), f.Kith)
			continue
		}
		clients[strings.TrimPrefix(f.Location(), filepath.ToSlash(repo)+"/")+"@"+f.Commit] = f.Kith.ClientID
	}
	wantClients := map[string]string{"deploy/old.env:1@" + leakCommit: inHistory.Client.ID, "deploy/values.yaml:3@": inFile.Client.ID}
	if len(clients) != 2 || clients["deploy/old.env:1@"+leakCommit] != inHistory.Client.ID || clients["deploy/values.yaml:3@"] != inFile.Client.ID {
		t.Errorf("findings by place: %v, want %v", clients, wantClients)
	}
	if bytes.Contains(out, []byte(inFile.Secret)) || bytes.Contains(out, []byte(inHistory.Secret)) {
		t.Error("the report shows a secret")
	}

	for _, cs := range []api.ClientSecret{inFile, inHistory} {
		if code := e.tokenStatus(t, cs.Client.ID, cs.Secret); code != 401 {
			t.Errorf("token with the revoked secret of %s: %d, want 401", cs.Client.ID, code)
		}
	}
	got := map[string]map[string]string{}
	for _, ev := range e.events(t, audit.TypeOAuthClientSecretLeaked, string(audit.OutcomeSuccess)) {
		var a audit.Event
		if err := json.Unmarshal(ev.Body, &a); err != nil {
			t.Fatal(err)
		}
		got[a.Target] = a.Details
		if bytes.Contains(ev.Body, []byte(inFile.Secret[8:])) || bytes.Contains(ev.Body, []byte(inHistory.Secret[8:])) {
			t.Errorf("the ledger event of %s holds the secret", a.Target)
		}
	}
	if d := got[inHistory.Client.ID]; d["commit"] != leakCommit || !strings.HasSuffix(d["location"], "/deploy/old.env:1") || d["revoked"] != "true" {
		t.Errorf("leak event of the history secret: %v", d)
	}
	if d := got[inFile.Client.ID]; d["commit"] != "" || !strings.HasSuffix(d["location"], "/deploy/values.yaml:3") || d["live"] != "true" {
		t.Errorf("leak event of the file secret: %v", d)
	}
	await.Until(t, "both leaks weigh on the entry's trust", 5*time.Second, e.trust.host.Progress, func() bool {
		return len(e.trust.host.Contexts("spiffe://example.org/orders")) == 2
	})
	var st api.TrustState
	if code := e.do(t, "GET", "/v1/trust/spiffe:%2F%2Fexample.org%2Forders", e.token, nil, &st); code != 200 || st.Score >= 700 {
		t.Errorf("GET /v1/trust of the entry: %d %+v, want its trust lowered by the leaks", code, st)
	}

	// Once revoked, the same secrets are found again but are nobody's.
	fe, _ = run()
	if fe.ExitCode() != scan.ExitFound || fe.Summary.Live != 0 || fe.Summary.Kith != 2 {
		t.Errorf("second scan: exit %d, %+v; want %d, no live secret", fe.ExitCode(), fe.Summary, scan.ExitFound)
	}
}

// gitRun runs git in dir with a fixed identity and no user or system
// configuration, and returns its trimmed output.
func gitRun(t testing.TB, dir string, args ...string) string {
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

func writeTestFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
