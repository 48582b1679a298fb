package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/api"
)

// fakeChecker answers secret checks as answer says, remembering them.
type fakeChecker struct {
	calls  []api.SecretCheck
	answer func(api.SecretCheck) (*api.SecretCheckResult, error)
}

func (c *fakeChecker) CheckSecret(_ context.Context, in api.SecretCheck) (*api.SecretCheckResult, error) {
	c.calls = append(c.calls, in)
	return c.answer(in)
}

// liveIf answers that the secret live is live (and revoked when asked),
// and that no client holds any other.
func liveIf(live string) func(api.SecretCheck) (*api.SecretCheckResult, error) {
	return func(in api.SecretCheck) (*api.SecretCheckResult, error) {
		if in.Secret != live {
			return &api.SecretCheckResult{}, nil
		}
		return &api.SecretCheckResult{Known: true, ClientID: "ci_orders", EntryID: "e1",
			SPIFFEID: "spiffe://example.org/orders", SecretID: "s1", Live: true, Revoked: in.Revoke}, nil
	}
}

func TestCheckKithAsksOncePerSecret(t *testing.T) {
	needGit(t)
	p := plant(t, "planted.txtar")
	first, _ := commitPlanted(t, p)
	live := p.values["kith_secret"]
	c := &fakeChecker{answer: liveIf(live)}
	rep, err := Scan(t.Context(), Config{Paths: []string{p.dir}, Checker: c, Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []api.SecretCheck{
		// The history-only secret sorts first (deploy/history-only.yaml).
		{Secret: p.values["kith_history_secret"], Location: filepath.ToSlash(filepath.Join(p.dir, "deploy/history-only.yaml")) + ":2",
			Commit: first, Places: 1, Revoke: true},
		// The other is in two files and two commits: a file is named.
		{Secret: live, Location: filepath.ToSlash(filepath.Join(p.dir, "deploy/secret.yaml")) + ":6", Places: 4, Revoke: true},
	}
	if diff := cmp.Diff(want, c.calls); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	wantStatus := map[string]KithStatus{
		"deploy/history-only.yaml": {Status: StatusUnknown},
		"deploy/secret.yaml": {Status: StatusLive, ClientID: "ci_orders", EntryID: "e1", SPIFFEID: "spiffe://example.org/orders",
			SecretID: "s1", Revoked: true},
	}
	wantStatus["deploy/values.yaml"] = wantStatus["deploy/secret.yaml"]
	for _, f := range rep.Findings {
		if f.Kith == nil {
			continue
		}
		rel := strings.TrimPrefix(f.File, filepath.ToSlash(p.dir)+"/")
		if diff := cmp.Diff(wantStatus[rel], *f.Kith); diff != "" {
			t.Errorf("%s (%s): status (-want +got):\n%s", rel, f.Commit, diff)
		}
	}
	if got, want := rep.Summary(), (Summary{Found: 13, Kith: 5, Live: 4, Revoked: 4}); got != want {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}
}

func TestCheckKithFailure(t *testing.T) {
	p := plant(t, "planted.txtar") // no git: the files only
	down := errors.New("connection refused")
	c := &fakeChecker{answer: func(api.SecretCheck) (*api.SecretCheckResult, error) { return nil, down }}
	rep, err := Scan(t.Context(), Config{Paths: []string{p.dir}, Checker: c})
	if !errors.Is(err, ErrCheck) || !errors.Is(err, down) {
		t.Fatalf("Scan error = %v, want ErrCheck wrapping the checker's", err)
	}
	if rep == nil {
		t.Fatal("no report with the failed checks")
	}
	for _, f := range rep.Findings {
		if f.Kith != nil && (f.Kith.Status != StatusCheckFailed || !strings.Contains(f.Kith.Error, "connection refused")) {
			t.Errorf("%s: status %+v, want check_failed with the reason", f.Location(), f.Kith)
		}
	}
}

// plantedReport scans a committed planted tree with a checker that knows
// its Kith secret as live, and revokes it.
func plantedReport(t *testing.T) (planted, *Report) {
	t.Helper()
	needGit(t)
	p := plant(t, "planted.txtar")
	commitPlanted(t, p)
	rep, err := Scan(t.Context(), Config{Paths: []string{p.dir}, Checker: &fakeChecker{answer: liveIf(p.values["kith_secret"])}, Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	return p, rep
}

func TestOutputsShowNoSecret(t *testing.T) {
	p, rep := plantedReport(t)
	outs := map[string]func(*bytes.Buffer) error{
		"table": func(b *bytes.Buffer) error { return rep.WriteTable(b) },
		"json":  func(b *bytes.Buffer) error { return rep.WriteJSON(b) },
		"sarif": func(b *bytes.Buffer) error { return rep.WriteSARIF(b, "test") },
	}
	for name, write := range outs {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for key, v := range p.values {
			for _, part := range secretParts(v) {
				if strings.Contains(b.String(), part) {
					t.Errorf("the %s output shows the %s", name, key)
				}
			}
		}
		if !strings.Contains(b.String(), "ci_orders") {
			t.Errorf("the %s output does not name the client of the live secret", name)
		}
	}
}

// secretParts are the parts of a planted secret that must never be
// shown: the whole of it, or each line of a PEM block's body.
func secretParts(v string) []string {
	lines := strings.Split(v, "\n")
	if len(lines) < 3 {
		return []string{v}
	}
	return lines[1 : len(lines)-1]
}

func TestWriteTable(t *testing.T) {
	p, rep := plantedReport(t)
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+len(rep.Findings) {
		t.Fatalf("%d lines for %d findings:\n%s", len(lines), len(rep.Findings), b.String())
	}
	if !strings.HasPrefix(lines[0], "RULE") {
		t.Errorf("no header: %q", lines[0])
	}
	values := filepath.ToSlash(filepath.Join(p.dir, "deploy/values.yaml")) + ":4"
	var seen bool
	for _, l := range lines {
		if strings.Contains(l, values) && strings.Contains(l, " - ") {
			seen = true
			for _, w := range []string{"kith-client-secret", "kith_sk_…", "LIVE, client ci_orders (spiffe://example.org/orders), revoked now"} {
				if !strings.Contains(l, w) {
					t.Errorf("line %q lacks %q", l, w)
				}
			}
		}
	}
	if !seen {
		t.Errorf("no line for %s in the working tree:\n%s", values, b.String())
	}
	b.Reset()
	if err := (&Report{}).WriteTable(&b); err != nil || b.String() != "No secrets found.\n" {
		t.Errorf("empty report: %q, %v", b.String(), err)
	}
}

func TestWriteJSON(t *testing.T) {
	_, rep := plantedReport(t)
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got jsonReport
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rep.Findings, got.Findings, cmp.AllowUnexported(Finding{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".secret"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("findings after a JSON round trip (-want +got):\n%s", diff)
	}
	if got.Summary != rep.Summary() {
		t.Errorf("summary %+v, want %+v", got.Summary, rep.Summary())
	}
	b.Reset()
	if err := (&Report{}).WriteJSON(&b); err != nil || !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("empty report: %s, %v", b.String(), err)
	}
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	_, rep := plantedReport(t)
	sch := loadSchema(t, "testdata/sarif-schema-2.1.0.json")
	for name, r := range map[string]*Report{"planted": rep, "empty": {}} {
		var b bytes.Buffer
		if err := r.WriteSARIF(&b, "v1.2.3"); err != nil {
			t.Fatal(err)
		}
		for _, e := range sch.validate(b.Bytes()) {
			t.Errorf("%s: %s", name, e)
		}
	}
	var b bytes.Buffer
	if err := rep.WriteSARIF(&b, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if len(run.Results) != len(rep.Findings) {
		t.Fatalf("%d results for %d findings", len(run.Results), len(rep.Findings))
	}
	for i, res := range run.Results {
		f := rep.Findings[i]
		if rule := run.Tool.Driver.Rules[res.RuleIndex]; rule.ID != res.RuleID || res.RuleID != f.RuleID {
			t.Errorf("result %d: rule %q at index %d is %q", i, res.RuleID, res.RuleIndex, rule.ID)
		}
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != "file://"+f.File || loc.Region.StartLine != f.Line {
			t.Errorf("result %d at %s:%d, want %s:%d", i, loc.ArtifactLocation.URI, loc.Region.StartLine, f.File, f.Line)
		}
		if res.PartialFingerprints[sarifFingerprint] != f.Fingerprint {
			t.Errorf("result %d: fingerprint %q, want %q", i, res.PartialFingerprints[sarifFingerprint], f.Fingerprint)
		}
	}
}

func TestSARIFRelativePaths(t *testing.T) {
	tests := []struct{ in, uri string }{
		{"deploy/values.yaml", "deploy/values.yaml"},
		{"./deploy/a b.yaml", "deploy/a%20b.yaml"},
		{"../other/x.env", "../other/x.env"},
	}
	for _, tc := range tests {
		a := artifactOf(tc.in)
		if a.URI != tc.uri || a.URIBaseID != srcRoot {
			t.Errorf("artifactOf(%q) = %+v, want %q under %s", tc.in, a, tc.uri, srcRoot)
		}
	}
}

// TestSchemaValidatorCatches shows the test's validator refuses what the
// schema refuses, so that its silence about kith scan's output means
// something.
func TestSchemaValidatorCatches(t *testing.T) {
	sch := loadSchema(t, "testdata/sarif-schema-2.1.0.json")
	tests := map[string]string{
		"no version":           `{"runs":[]}`,
		"wrong version":        `{"version":"2.0.0","runs":[]}`,
		"unknown property":     `{"version":"2.1.0","runs":[],"extra":1}`,
		"run without tool":     `{"version":"2.1.0","runs":[{}]}`,
		"bad level":            `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		"line zero":            `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"region":{"startLine":0}}}]}]}]}`,
		"message without text": `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{}}]}]}`,
		"rule without id":      `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","rules":[{}]}}}]}`,
		"non-URI base":         `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x","informationUri":"not a uri"}}}]}`,
	}
	for name, doc := range tests {
		if errs := sch.validate([]byte(doc)); len(errs) == 0 {
			t.Errorf("%s: no error", name)
		}
	}
	if errs := sch.validate([]byte(`{"version":"2.1.0","runs":[]}`)); len(errs) != 0 {
		t.Errorf("a minimal log: %v", errs)
	}
}
