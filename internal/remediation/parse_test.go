package remediation

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
)

func TestParseExample(t *testing.T) {
	data, err := os.ReadFile("testdata/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("remediation.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &File{
		Webhook: &WebhookSpec{URL: "https://hooks.example.org/kith", SecretFile: "/etc/kith/webhook.secret", Timeout: 5 * time.Second},
		Ladders: []Ladder{{
			Name: "workloads", Description: "every workload of the trust domain but the break-glass tools",
			Identities: []string{"spiffe://example.org/**"}, Allow: []string{"spiffe://example.org/ops/**"},
			Mode: ModeEnforce, Evidence: Evidence{Signals: 2, Severity: trust.High}, Cooldown: 15 * time.Minute,
			MaxQuarantineShare: 0.5,
			Steps: []Step{
				{Level: trust.LevelMedium, Action: ActionObserve},
				{Level: trust.LevelLow, Action: ActionStepUp},
				{Level: trust.LevelLow, After: 10 * time.Minute, Action: ActionRateLimit},
				{Level: trust.LevelUntrusted, Action: ActionQuarantine},
				{Level: trust.LevelUntrusted, After: 30 * time.Minute, Action: ActionRevokeCredentials,
					Evidence: Evidence{Severity: trust.Critical}},
			},
		}},
	}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", d)
	}
}

func TestParseDefaults(t *testing.T) {
	f, err := Parse("r.yaml", []byte("ladders:\n  - name: a\n    identities: spiffe://example.org/x\n    steps:\n      - {level: low, action: observe}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := f.Ladders[0]
	got := []any{l.Mode, l.Cooldown, l.MaxQuarantineShare, l.Evidence, l.Identities}
	want := []any{ModeDryRun, DefaultCooldown, DefaultMaxQuarantineShare, Evidence{Signals: 1}, []string{"spiffe://example.org/x"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", d)
	}
}

// TestParseErrors checks that every problem is placed at
// file:line:col with its field, with a did-you-mean for a misspelt name.
func TestParseErrors(t *testing.T) {
	const head = "ladders:\n  - name: a\n    identities: [spiffe://example.org/**]\n"
	tests := []struct {
		name string
		in   string
		want []string // substrings of the error, in order
	}{
		{"empty", "", []string{"r.yaml: the file defines no ladders"}},
		{"syntax", "ladders: [", []string{"r.yaml:1:1: "}},
		{"two documents", head + "    steps: [{level: low, action: observe}]\n---\nladders: []\n", []string{"want one YAML document"}},
		{"misspelt top", "ladder: []\n", []string{`r.yaml:1:1: ladder: unknown field (did you mean "ladders"?)`}},
		{"misspelt ladder field", head + "    stpes: []\n", []string{`r.yaml:4:5: ladder "a": ladders[0].stpes: unknown field (did you mean "steps"?)`,
			`r.yaml:2:5: ladder "a": ladders[0]: steps is required`}},
		{"misspelt action", head + "    steps:\n      - level: low\n        action: quarantien\n",
			[]string{`r.yaml:6:17: ladder "a": ladders[0].steps[0].action: unknown action "quarantien" (did you mean "quarantine"?)`}},
		{"misspelt level", head + "    steps:\n      - level: untrusetd\n        action: observe\n",
			[]string{`r.yaml:5:16: ladder "a": ladders[0].steps[0].level: unknown level "untrusetd" (did you mean "untrusted"?)`}},
		{"level high", head + "    steps: [{level: high, action: observe}]\n",
			[]string{`ladders[0].steps[0].level: every caller is at or below high`}},
		{"misspelt mode", head + "    mode: enforec\n    steps: [{level: low, action: observe}]\n",
			[]string{`r.yaml:4:11: ladder "a": ladders[0].mode: unknown mode "enforec" (did you mean "enforce"?)`}},
		{"misspelt severity", head + "    min_severity: hihg\n    steps: [{level: low, action: observe}]\n",
			[]string{`ladders[0].min_severity: unknown severity "hihg" (did you mean "high"?)`}},
		{"bad share", head + "    max_quarantine_share: 1.5\n    steps: [{level: low, action: observe}]\n",
			[]string{`r.yaml:4:27: ladder "a": ladders[0].max_quarantine_share: want a share above 0 and at most 1`}},
		{"zero cooldown", head + "    cooldown: 0s\n    steps: [{level: low, action: observe}]\n",
			[]string{`ladders[0].cooldown: want a duration above zero`}},
		{"bad duration", head + "    steps: [{level: low, after: soon, action: observe}]\n",
			[]string{`ladders[0].steps[0].after: want a duration such as 10m`}},
		{"negative signals", head + "    min_signals: 0\n    steps: [{level: low, action: observe}]\n",
			[]string{`ladders[0].min_signals: want an integer from 1 to 100, got "0"`}},
		{"bad pattern", "ladders:\n  - name: a\n    identities: [spiffe://example.org/**/x]\n    steps: [{level: low, action: observe}]\n",
			[]string{`r.yaml:3:18: ladder "a": ladders[0].identities[0]: "**" may only be a whole last segment`}},
		{"bad name", "ladders:\n  - name: a b\n    identities: x\n    steps: [{level: low, action: observe}]\n",
			[]string{`ladders[0].name: want 1 to 128 letters`}},
		{"duplicate name", head + "    steps: [{level: low, action: observe}]\n" +
			"  - name: a\n    identities: x\n    steps: [{level: low, action: observe}]\n",
			[]string{`r.yaml:5:11: ladder "a": ladders[1].name: another ladder has this name (line 2)`}},
		{"duplicate key", head + "    name: b\n    steps: [{level: low, action: observe}]\n", []string{"ladders[0].name: duplicate key"}},
		{"missing action", head + "    steps: [{level: low}]\n", []string{"ladders[0].steps[0]: action is required"}},
		{"no steps", head + "    steps: []\n", []string{"ladders[0].steps: the list is empty"}},
		{"alias", "x: &a [1]\nladders: *a\n", []string{"x: unknown field", "ladders: aliases are not supported"}},
		{"webhook http", "webhook:\n  url: http://hooks.example.org/\n  secret_file: s\n" + head + "    steps: [{level: low, action: observe}]\n",
			[]string{"webhook.url: want https (http only to a loopback address)"}},
		{"webhook no secret", "webhook:\n  url: https://hooks.example.org/\n" + head + "    steps: [{level: low, action: observe}]\n",
			[]string{"r.yaml:2:3: webhook: secret_file is required"}},
		{"boolean name", "ladders:\n  - name: true\n    identities: x\n    steps: [{level: low, action: observe}]\n",
			[]string{"ladders[0].name: want a string, got a boolean (true)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tc.in))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not hold (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		nomatch []string
	}{
		{"spiffe://example.org/payments", []string{"spiffe://example.org/payments"},
			[]string{"spiffe://example.org/payments/x", "spiffe://example.org/pay"}},
		{"spiffe://example.org/**", []string{"spiffe://example.org/a", "spiffe://example.org/a/b"},
			[]string{"spiffe://example.org", "spiffe://example.org/", "spiffe://other.org/a"}},
		{"spiffe://*/payments", []string{"spiffe://a.org/payments", "spiffe://b.org/payments"},
			[]string{"spiffe://a.org/payments/x", "spiffe://a.org/orders"}},
		{"spiffe://example.org/ns/*/sa/web-*", []string{"spiffe://example.org/ns/prod/sa/web-1"},
			[]string{"spiffe://example.org/ns/prod/sa/api-1", "spiffe://example.org/ns/a/b/sa/web-1"}},
		{"client-*", []string{"client-1", "client-"}, []string{"other", "client/x"}},
	}
	for _, tc := range tests {
		p, err := compilePattern(tc.pattern)
		if err != nil {
			t.Fatalf("compile %q: %v", tc.pattern, err)
		}
		for _, id := range tc.match {
			if !p.match(id) {
				t.Errorf("%q does not match %q", tc.pattern, id)
			}
		}
		for _, id := range tc.nomatch {
			if p.match(id) {
				t.Errorf("%q matches %q", tc.pattern, id)
			}
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("a.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse("b.yaml", out)
	if err != nil {
		t.Fatalf("Parse(Marshal): %v\n%s", err, out)
	}
	if d := cmp.Diff(f, g); d != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", d)
	}
}

func TestCheckPolicies(t *testing.T) {
	f := &File{Ladders: []Ladder{ladder(
		Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelLow, Action: ActionRateLimit},
		Step{Level: trust.LevelUntrusted, Action: ActionQuarantine},
	)}}
	docs := []policy.Document{
		{Name: "p", Target: "spiffe://example.org/a", Rules: []policy.Rule{
			{Action: policy.ActionStepUp, When: `trust.level == "low"`},
			{Action: policy.ActionRateLimit}, // reads no trust
		}},
		{Name: "q", Target: "spiffe://example.org/b", Mode: policy.ModeDryRun, Rules: []policy.Rule{
			{Action: policy.ActionRateLimit, When: `trust.level == "low"`}, // not enforced
		}},
	}
	got := CheckPolicies(f, docs)
	if len(got) != 1 || !strings.Contains(got[0], `step 1 (rate_limit at low)`) {
		t.Errorf("CheckPolicies = %q, want one warning about the rate_limit rung", got)
	}
}

// TestReadmeExample checks that the ladder file the README shows parses.
func TestReadmeExample(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Remediation")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("the README has no YAML example under ### Remediation")
	}
	f, err := Parse("README.md", []byte(block))
	if err != nil {
		t.Fatalf("the README's example does not parse:\n%v", err)
	}
	if len(f.Ladders) != 1 || len(f.Ladders[0].Steps) != 5 || f.Webhook == nil {
		t.Errorf("the README's example parsed to %+v", f)
	}
}
