package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// policyOf returns a policy named p on the orders service with rules.
func policyOf(rules string) string {
	return "name: p\ntarget: spiffe://example.org/orders\nrules:\n" + rules
}

const (
	allowBilling = "  - name: billing\n    from: {spiffe_ids: [spiffe://example.org/billing]}\n    action: allow\n"
	allowAll     = "  - name: all\n    action: allow\n"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		in     func(in *Input) // changes to call(billing, GET, /orders/42)
		want   Action
		rule   string // name of the deciding rule, "" for none
		check  func(t *testing.T, d Decision)
	}{
		{name: "allow", policy: policyOf(allowBilling), want: ActionAllow, rule: "billing"},
		{name: "default deny", policy: policyOf(allowBilling), in: func(in *Input) { in.Caller.SPIFFEID = stranger }, want: ActionDeny,
			check: func(t *testing.T, d Decision) {
				if !d.Rule.IsZero() || d.Reason != reasonDefaultDeny || !d.Protected {
					t.Errorf("default deny = %+v", d)
				}
			}},
		{name: "unprotected target", policy: policyOf(allowBilling), in: func(in *Input) { in.Target = "spiffe://example.org/other" }, want: ActionAllow,
			check: func(t *testing.T, d Decision) {
				if d.Protected || d.Reason != reasonUnprotected {
					t.Errorf("unprotected = %+v", d)
				}
			}},
		{name: "policy without rules denies", policy: "name: p\ntarget: spiffe://example.org/orders\n", want: ActionDeny},
		{name: "deny overrides allow", policy: policyOf(allowBilling + "  - name: no\n    action: deny\n"), want: ActionDeny, rule: "no"},
		{name: "quarantine overrides deny", policy: policyOf(allowBilling + "  - name: no\n    action: deny\n  - name: q\n    action: quarantine\n"),
			want: ActionQuarantine, rule: "q",
			check: func(t *testing.T, d Decision) {
				if d.Obligations.Signal != SignalQuarantine || d.Allowed() {
					t.Errorf("quarantine = %+v", d)
				}
			}},
		{name: "step_up overrides restrict and allow",
			policy: policyOf(allowBilling + "  - name: su\n    action: step_up\n    step_up: {acr: [urn:mfa]}\n  - name: r\n    action: restrict\n    scopes: [a]\n"),
			want:   ActionStepUp, rule: "su",
			check: func(t *testing.T, d Decision) {
				want := `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:mfa"`
				if d.Obligations.StepUp == nil || d.Obligations.StepUp.Challenge() != want {
					t.Errorf("step-up obligation = %+v", d.Obligations.StepUp)
				}
			}},
		{name: "step_up satisfied by the token's acr", policy: policyOf(allowBilling + "  - name: su\n    action: step_up\n    step_up: {acr: [urn:mfa]}\n"),
			in: func(in *Input) { in.Token.ACR = "urn:mfa" }, want: ActionAllow, rule: "billing"},
		{name: "step_up max_age exceeded", policy: policyOf(allowBilling + "  - name: su\n    action: step_up\n    step_up: {max_age: 300}\n"),
			in: func(in *Input) { in.Token.AuthTime = t0.Unix() - 301 }, want: ActionStepUp, rule: "su",
			check: func(t *testing.T, d Decision) {
				if got := d.Obligations.StepUp.Challenge(); got != `Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", max_age="300"` {
					t.Errorf("challenge = %s", got)
				}
			}},
		{name: "step_up max_age met", policy: policyOf(allowBilling + "  - name: su\n    action: step_up\n    step_up: {max_age: 300}\n"),
			in: func(in *Input) { in.Token.AuthTime = t0.Unix() - 299 }, want: ActionAllow, rule: "billing"},
		{name: "restrict alone allows with the scopes kept", policy: policyOf("  - name: r\n    action: restrict\n    scopes: [orders.read]\n"),
			want: ActionRestrict, rule: "r",
			check: func(t *testing.T, d Decision) {
				if !d.Allowed() || !cmp.Equal(d.Obligations.Scopes, []string{"orders.read"}) {
					t.Errorf("restrict = %+v", d)
				}
			}},
		{name: "two restricts keep the intersection",
			policy: policyOf(allowAll + "  - name: r1\n    action: restrict\n    scopes: [a, b, c]\n  - name: r2\n    action: restrict\n    scopes: [c, b, d]\n"),
			want:   ActionRestrict, rule: "r1",
			check: func(t *testing.T, d Decision) {
				if !cmp.Equal(d.Obligations.Scopes, []string{"b", "c"}) {
					t.Errorf("scopes = %v, want [b c]", d.Obligations.Scopes)
				}
			}},
		{name: "rate limits keep the strictest",
			policy: policyOf(allowAll + "  - name: fast\n    action: rate_limit\n    rate_limit: {rps: 100}\n  - name: slow\n    action: rate_limit\n    rate_limit: {rps: 2, burst: 4}\n"),
			want:   ActionRateLimit, rule: "slow",
			check: func(t *testing.T, d Decision) {
				if d.Obligations.RateLimit == nil || *d.Obligations.RateLimit != (RateLimit{RPS: 2, Burst: 4}) {
					t.Errorf("rate = %+v, want 2/s burst 4", d.Obligations.RateLimit)
				}
			}},
		{name: "restrict with a rate limit carries both",
			policy: policyOf("  - name: rl\n    action: rate_limit\n    rate_limit: {rps: 10}\n  - name: r\n    action: restrict\n    scopes: [a]\n"),
			want:   ActionRestrict, rule: "r",
			check: func(t *testing.T, d Decision) {
				if d.Obligations.RateLimit == nil || *d.Obligations.RateLimit != (RateLimit{RPS: 10, Burst: 10}) || len(d.Obligations.Scopes) != 1 {
					t.Errorf("obligations = %+v", d.Obligations)
				}
			}},
		{name: "audit allows and records", policy: policyOf(allowAll + "  - name: a\n    action: audit\n"), want: ActionAudit, rule: "a",
			check: func(t *testing.T, d Decision) {
				if !d.Allowed() || !d.Obligations.Record {
					t.Errorf("audit = %+v", d)
				}
			}},
		{name: "audit records a deny too", policy: policyOf("  - name: no\n    action: deny\n  - name: a\n    action: audit\n"), want: ActionDeny, rule: "no",
			check: func(t *testing.T, d Decision) {
				if !d.Obligations.Record {
					t.Error("Record = false, want true")
				}
			}},
		{name: "template path", policy: policyOf("  - name: t\n    to: {methods: [GET], paths: [\"/orders/{id}\"]}\n    action: allow\n"),
			want: ActionAllow, rule: "t"},
		{name: "template path one segment only", policy: policyOf("  - name: t\n    to: {paths: [\"/orders/{id}\"]}\n    action: allow\n"),
			in: func(in *Input) { in.Request.Path = "/orders/42/items" }, want: ActionDeny},
		{name: "prefix path", policy: policyOf("  - name: t\n    to: {paths: [\"/orders/*\"]}\n    action: allow\n"),
			in: func(in *Input) { in.Request.Path = "/orders/42/items" }, want: ActionAllow, rule: "t"},
		{name: "method", policy: policyOf("  - name: t\n    to: {methods: [POST]}\n    action: allow\n"), want: ActionDeny},
		{name: "host", policy: policyOf("  - name: t\n    to: {hosts: [\"*.internal\"]}\n    action: allow\n"), want: ActionAllow, rule: "t"},
		{name: "caller pattern", policy: policyOf("  - name: t\n    from: {spiffe_ids: [\"spiffe://example.org/ns/*/sa/reports\"]}\n    action: allow\n"),
			in: func(in *Input) { in.Caller.SPIFFEID = reports }, want: ActionAllow, rule: "t"},
		{name: "trust domain", policy: policyOf("  - name: t\n    from: {trust_domains: [partner.example]}\n    action: allow\n"),
			in: func(in *Input) { in.Caller.SPIFFEID = partner }, want: ActionAllow, rule: "t"},
		{name: "client ID", policy: policyOf("  - name: t\n    from: {client_ids: [cli]}\n    action: allow\n"),
			in: func(in *Input) { in.Caller = Caller{ClientID: "cli"} }, want: ActionAllow, rule: "t"},
		{name: "required scopes missing", policy: policyOf("  - name: t\n    from: {scopes: [orders.write]}\n    action: allow\n"), want: ActionDeny},
		{name: "required scopes without a token", policy: policyOf("  - name: t\n    from: {scopes: [orders.read]}\n    action: allow\n"),
			in: func(in *Input) { in.Token = Token{} }, want: ActionDeny},
		{name: "CEL over the trust score", policy: policyOf("  - name: t\n    when: trust.score >= 600 && trust.level == 'high'\n    action: allow\n"),
			want: ActionAllow, rule: "t"},
		{name: "CEL over the trust score, too low", policy: policyOf("  - name: t\n    when: trust.score >= 600\n    action: allow\n"),
			in: func(in *Input) { in.Trust.Score = 599 }, want: ActionDeny},
		{name: "CEL over trust signals", policy: policyOf(allowAll + "  - name: anomaly\n    when: trust.signals.exists(s, s.startsWith('anomaly.'))\n    action: quarantine\n"),
			in: func(in *Input) { in.Trust.Signals = []string{"caep.session-revoked", "anomaly.rate"} }, want: ActionQuarantine, rule: "anomaly",
			check: func(t *testing.T, d Decision) {
				if !cmp.Equal(d.Inputs, []string{"target", "trust.signals"}) {
					t.Errorf("inputs = %v", d.Inputs)
				}
			}},
		{name: "CEL over token fields", policy: policyOf("  - name: t\n    when: token.present && 'orders.read' in token.scopes && token.claims.tenant == 'acme' && token.acr == 'urn:mfa' && token.auth_time > 0\n    action: allow\n"),
			in: func(in *Input) {
				in.Token.Claims = map[string]any{"tenant": "acme"}
				in.Token.ACR, in.Token.AuthTime = "urn:mfa", t0.Unix()
			}, want: ActionAllow, rule: "t"},
		{name: "CEL over request headers and caller", policy: policyOf("  - name: t\n    when: request.headers['x-tenant'] == 'acme' && caller.spiffe_id.endsWith('/billing') && request.method == 'GET'\n    action: allow\n"),
			in: func(in *Input) { in.Request.Headers = map[string]string{"x-tenant": "acme"} }, want: ActionAllow, rule: "t"},
		{name: "CEL runtime error fails closed", policy: policyOf(allowAll + "  - name: claims\n    when: token.claims.tenant == 'acme'\n    action: allow\n"),
			want: ActionDeny, rule: "claims",
			check: func(t *testing.T, d Decision) {
				if !errors.Is(d.Err, ErrCondition) || d.Allowed() {
					t.Errorf("decision = %+v, want a denial with ErrCondition", d)
				}
			}},
		{name: "an explicit deny outranks a failed condition", policy: policyOf("  - name: no\n    action: deny\n  - name: claims\n    when: token.claims.x == 1\n    action: allow\n"),
			want: ActionDeny, rule: "no",
			check: func(t *testing.T, d Decision) {
				if d.Err != nil {
					t.Errorf("Err = %v, want the deny rule to decide", d.Err)
				}
			}},
		{name: "non-canonical path fails closed", policy: policyOf("  - name: t\n    to: {paths: [\"/orders/*\"]}\n    action: allow\n"),
			in: func(in *Input) { in.Request.Path = "/orders/../admin" }, want: ActionDeny,
			check: func(t *testing.T, d Decision) {
				if !errors.Is(d.Err, ErrNonCanonicalPath) {
					t.Errorf("Err = %v, want ErrNonCanonicalPath", d.Err)
				}
			}},
		{name: "exact and pattern targets combine",
			policy: policyOf(allowBilling) + "---\nname: all-orders\ntarget: spiffe://example.org/ord*\nrules:\n  - name: lockdown\n    from: {spiffe_ids: [\"spiffe://example.org/**\"]}\n    action: deny\n",
			want:   ActionDeny, rule: "lockdown"},
		{name: "dry run does not enforce",
			policy: policyOf(allowBilling) + "---\nname: new\ntarget: spiffe://example.org/orders\nmode: dry_run\nrules:\n  - name: tighter\n    when: trust.score > 900\n    action: allow\n  - name: bad\n    when: token.claims.x == 1\n    action: deny\n",
			want:   ActionAllow, rule: "billing",
			check: func(t *testing.T, d Decision) {
				if !d.HasDryRun || d.DryRun.Action != ActionDeny || !errors.Is(d.DryRun.Err, ErrCondition) || d.DryRun.Rule.Name != "bad" {
					t.Errorf("dry run = %+v, %+v", d.HasDryRun, d.DryRun)
				}
			}},
		{name: "dry run alone leaves the target unprotected",
			policy: "name: new\ntarget: spiffe://example.org/orders\nmode: dry_run\nrules:\n" + allowBilling,
			in:     func(in *Input) { in.Caller.SPIFFEID = stranger }, want: ActionAllow,
			check: func(t *testing.T, d Decision) {
				if d.Protected || !d.HasDryRun || d.DryRun.Action != ActionDeny || d.DryRun.Reason != reasonDefaultDeny {
					t.Errorf("decision = %+v", d)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustCompile(t, tt.policy)
			in := call(billing, "GET", "/orders/42")
			if tt.in != nil {
				tt.in(in)
			}
			d := s.Decide(in)
			if d.Action != tt.want || d.Rule.Name != tt.rule {
				t.Errorf("Decide = %s by %q (%s), want %s by %q", d.Action, d.Rule.Name, d.Reason, tt.want, tt.rule)
			}
			if d.Revision != 7 {
				t.Errorf("Revision = %d, want 7", d.Revision)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
			// Explain reaches the same decision.
			ex := s.Explain(in)
			if d := cmp.Diff(d, ex.Decision, cmp.Comparer(sameError)); d != "" {
				t.Errorf("Explain's decision differs (-Decide +Explain):\n%s", d)
			}
		})
	}
}

// sameError compares errors by text.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

// TestCostLimit shows that a condition that runs over its cost limit
// fails closed, and one within it does not.
func TestCostLimit(t *testing.T) {
	const src = "name: p\ntarget: spiffe://example.org/orders\nrules:\n  - action: allow\n" +
		"    when: trust.signals.all(a, trust.signals.all(b, a.size() + b.size() >= 0))\n"
	docs, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	in := call(billing, "GET", "/orders/1")
	for range 200 {
		in.Trust.Signals = append(in.Trust.Signals, "anomaly.rate")
	}
	for _, tt := range []struct {
		limit uint64
		want  Action
	}{{100, ActionDeny}, {10_000_000, ActionAllow}} {
		s, err := Compile(docs, CompileOptions{CostLimit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		d := s.Decide(in)
		if d.Action != tt.want {
			t.Errorf("limit %d: %s (%s), want %s", tt.limit, d.Action, d.Reason, tt.want)
		}
		if tt.want == ActionDeny && (!errors.Is(d.Err, ErrCondition) || d.Err.Error() != "condition failed: cost limit exceeded") {
			t.Errorf("limit %d: Err = %v, want the cost limit", tt.limit, d.Err)
		}
	}
}
