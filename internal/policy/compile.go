package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.yaml.in/yaml/v3"
)

// CompileOptions configure [Compile]. Zero values are documented defaults.
type CompileOptions struct {
	// Revision is the revision of the policy set, reported in decisions.
	Revision int64
	// CostLimit bounds the CEL cost of one condition on one call;
	// [DefaultCostLimit] when zero. A condition that exceeds it fails, and
	// the call is denied.
	CostLimit uint64
	// Clock returns the current time, for step-up max_age when the Input
	// has no Time; nil means time.Now.
	Clock func() time.Time
}

// rule is a compiled rule.
type rule struct {
	ref    RuleRef
	ord    int    // position in (policy name, key) order, for ties
	key    string // the rule's JSON form
	action Action
	dryRun bool
	target string

	ids     []idPattern
	tds     []string
	clients []string
	scopes  []string
	methods uint16 // 0: any
	hosts   []hostPattern
	paths   []pathPattern
	when    *condition

	stepUp *StepUp
	keep   []string
	rate   *RateLimit

	reason string   // "policy "p" rule 1 (name): deny"
	inputs []string // what the rule looks at
}

// maxNameLength caps policy names.
const maxNameLength = 128

// Compile checks docs and compiles them into a [Set] ready to decide.
// Policy names must be unique. It returns an [ErrorList] naming, for each
// problem, the file, line and column (for documents from [Parse]), the
// policy and the field; nothing is compiled then.
func Compile(docs []Document, opts CompileOptions) (*Set, error) {
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultCostLimit
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	c := &compiler{opts: opts}
	seen := make(map[string]bool, len(docs))
	for i := range docs {
		d := &docs[i]
		if seen[d.Name] && d.Name != "" {
			c.errorf(d, "name", "another policy has this name; names must be unique")
		}
		seen[d.Name] = true
		c.document(d)
	}
	if err := c.errs.err(); err != nil {
		return nil, err
	}
	// Ties between rules of equal precedence go to the first in (policy
	// name, rule content) order, whatever the order of documents and rules.
	slices.SortFunc(c.rules, func(a, b *rule) int {
		if n := strings.Compare(a.ref.Policy, b.ref.Policy); n != 0 {
			return n
		}
		if n := strings.Compare(a.key, b.key); n != 0 {
			return n
		}
		return a.ref.Index - b.ref.Index
	})
	for i, r := range c.rules {
		r.ord = i
	}
	sorted := slices.Clone(docs)
	slices.SortFunc(sorted, func(a, b Document) int { return strings.Compare(a.Name, b.Name) })
	return newSet(sorted, c.rules, opts), nil
}

// compiler collects compiled rules and problems.
type compiler struct {
	opts  CompileOptions
	env   *cel.Env
	envOK bool
	errs  ErrorList
	rules []*rule
}

// errorf records a problem in field of d.
func (c *compiler) errorf(d *Document, field, format string, args ...any) {
	c.errs = append(c.errs, &Error{Pos: d.Position(field), Policy: d.Name, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// document checks d and compiles its rules.
func (c *compiler) document(d *Document) {
	if err := checkName(d.Name); err != nil {
		c.errorf(d, "name", "%v", err)
	}
	var target idPattern
	if d.Target == "" {
		c.errorf(d, "target", "required: the SPIFFE ID (or pattern) of the protected service")
	} else if p, err := compileIDPattern(d.Target); err != nil {
		c.errorf(d, "target", "%v", err)
	} else {
		target = p
	}
	switch d.Mode {
	case "", ModeEnforce, ModeDryRun:
	default:
		c.errorf(d, "mode", "%q is not a mode (want enforce or dry_run)", d.Mode)
	}
	for i := range d.Rules {
		if r := c.rule(d, i); r != nil {
			r.target = target.raw
			c.rules = append(c.rules, r)
		}
	}
}

// checkName checks a policy name.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("required")
	}
	if len(name) > maxNameLength {
		return fmt.Errorf("longer than %d characters", maxNameLength)
	}
	for _, ch := range []byte(name) {
		if !isIDPathChar(ch) {
			return fmt.Errorf("%q holds %q; use letters, digits, '.', '-' and '_'", name, ch)
		}
	}
	return nil
}

// rule checks and compiles rule i of d; nil if it has problems.
func (c *compiler) rule(d *Document, i int) *rule {
	before := len(c.errs)
	src := &d.Rules[i]
	f := "rules[" + strconv.Itoa(i) + "]"
	r := &rule{ref: RuleRef{Policy: d.Name, Index: i, Name: src.Name}, action: src.Action, dryRun: d.Mode == ModeDryRun}
	for j, s := range src.From.SPIFFEIDs {
		p, err := compileIDPattern(s)
		if err != nil {
			c.errorf(d, fmt.Sprintf("%s.from.spiffe_ids[%d]", f, j), "%v", err)
		}
		r.ids = append(r.ids, p)
	}
	for j, s := range src.From.TrustDomains {
		td, err := spiffeid.TrustDomainFromString(s)
		if err != nil || td.Name() != s {
			c.errorf(d, fmt.Sprintf("%s.from.trust_domains[%d]", f, j), "%q is not a trust domain name", s)
		}
		r.tds = append(r.tds, s)
	}
	r.clients = c.names2(d, f+".from.client_ids", src.From.ClientIDs, "client ID")
	r.scopes = c.names2(d, f+".from.scopes", src.From.Scopes, "scope")
	for j, m := range src.To.Methods {
		switch {
		case m == "*":
			r.methods = 0
		case methodBit(m) == methodOther:
			c.errorf(d, fmt.Sprintf("%s.to.methods[%d]", f, j), "%q is not an HTTP method (upper case, such as GET) or *", m)
		case !slices.Contains(src.To.Methods, "*"):
			r.methods |= methodBit(m)
		}
	}
	for j, s := range src.To.Hosts {
		h, err := compileHost(s)
		if err != nil {
			c.errorf(d, fmt.Sprintf("%s.to.hosts[%d]", f, j), "%v", err)
		}
		r.hosts = append(r.hosts, h)
	}
	for j, s := range src.To.Paths {
		p, err := compilePath(s)
		if err != nil {
			c.errorf(d, fmt.Sprintf("%s.to.paths[%d]", f, j), "%v", err)
		}
		r.paths = append(r.paths, p)
	}
	if src.When != "" {
		r.when = c.condition(d, f+".when", src.When)
	}
	c.actionParams(d, f, src, r)
	if len(c.errs) > before {
		return nil
	}
	r.reason, r.inputs = describe(r)
	if b, err := json.Marshal(src); err == nil {
		r.key = string(b)
	}
	return r
}

// names2 checks a list of client IDs or scopes: non-empty, no spaces.
func (c *compiler) names2(d *Document, field string, vs []string, what string) []string {
	for j, v := range vs {
		if v == "" || strings.ContainsAny(v, " \t\r\n") {
			c.errorf(d, fmt.Sprintf("%s[%d]", field, j), "%q is not a %s: it must be non-empty and hold no space", v, what)
		}
	}
	return vs
}

// actionParams checks the action and the parameters only some actions
// take.
func (c *compiler) actionParams(d *Document, f string, src *Rule, r *rule) {
	if src.Action == 0 {
		c.errorf(d, f+".action", "required: allow, audit, rate_limit, restrict, step_up, deny or quarantine")
	}
	if (src.StepUp != nil) != (src.Action == ActionStepUp) {
		c.errorf(d, f+".step_up", "step_up is required with action step_up, and only there")
	}
	if (len(src.Scopes) > 0) != (src.Action == ActionRestrict) {
		c.errorf(d, f+".scopes", "scopes (the scopes kept) are required with action restrict, and only there")
	}
	if (src.RateLimit != nil) != (src.Action == ActionRateLimit) {
		c.errorf(d, f+".rate_limit", "rate_limit is required with action rate_limit, and only there")
	}
	if s := src.StepUp; s != nil {
		if len(s.ACR) == 0 && s.MaxAge == 0 {
			c.errorf(d, f+".step_up", "name an acr, a max_age or both")
		}
		if s.MaxAge < 0 {
			c.errorf(d, f+".step_up.max_age", "must not be negative")
		}
		for j, a := range s.ACR {
			if a == "" || strings.ContainsAny(a, " \t\r\n\"\\") {
				c.errorf(d, fmt.Sprintf("%s.step_up.acr[%d]", f, j), "%q is not an acr value", a)
			}
		}
		r.stepUp = &StepUp{ACR: slices.Clone(s.ACR), MaxAge: s.MaxAge}
	}
	r.keep = c.names2(d, f+".scopes", src.Scopes, "scope")
	if rl := src.RateLimit; rl != nil {
		if !(rl.RPS > 0) || math.IsInf(rl.RPS, 0) {
			c.errorf(d, f+".rate_limit.rps", "must be a number above zero")
		}
		burst := rl.Burst
		if burst == 0 {
			burst = max(1, int(math.Ceil(rl.RPS)))
		}
		if burst < 0 {
			c.errorf(d, f+".rate_limit.burst", "must not be negative")
		}
		r.rate = &RateLimit{RPS: rl.RPS, Burst: burst}
	}
}

// condition compiles a when expression, placing its problems in the file.
func (c *compiler) condition(d *Document, field, src string) *condition {
	if !c.envOK {
		env, err := newCELEnv()
		if err != nil {
			c.errorf(d, field, "%v", err)
			return nil
		}
		c.env, c.envOK = env, true
	}
	cond, issues := compileCondition(c.env, src, c.opts.CostLimit)
	for _, is := range issues {
		e := &Error{Pos: d.Position(field), Policy: d.Name, Field: field, Msg: is.msg}
		if is.line > 0 && e.Pos.Line > 0 {
			e.Pos = whenPosition(e.Pos, d.style[field], is.line, is.col)
		}
		c.errs = append(c.errs, e)
	}
	return cond
}

// whenPosition maps a place in a condition (1-based line, 0-based column)
// to the file, given where its YAML scalar starts and its style.
func whenPosition(at Position, style yaml.Style, line, col int) Position {
	switch style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the line after the indicator; its
		// indentation is not known here.
		at.Line += line
		at.Column = 0
		return at
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if line == 1 {
			at.Column++
		}
	}
	if line > 1 {
		at.Line += line - 1
		at.Column = 1 + col
		return at
	}
	at.Column += col
	return at
}

// describe returns a rule's reason text and the inputs it looks at.
func describe(r *rule) (string, []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %s rule %d", quote(r.ref.Policy), r.ref.Index)
	if r.ref.Name != "" {
		fmt.Fprintf(&b, " (%s)", r.ref.Name)
	}
	b.WriteString(": ")
	b.WriteString(r.action.String())
	var in []string
	add := func(ok bool, name string) {
		if ok {
			in = append(in, name)
		}
	}
	in = append(in, "target")
	add(len(r.ids) > 0, "caller.spiffe_id")
	add(len(r.tds) > 0, "caller.trust_domain")
	add(len(r.clients) > 0, "caller.client_id")
	add(len(r.scopes) > 0, "token.scopes")
	add(r.methods != 0, "request.method")
	add(len(r.hosts) > 0, "request.host")
	add(len(r.paths) > 0, "request.path")
	add(r.stepUp != nil && len(r.stepUp.ACR) > 0, "token.acr")
	add(r.stepUp != nil && r.stepUp.MaxAge > 0, "token.auth_time")
	if r.when != nil {
		in = append(in, r.when.inputs...)
	}
	slices.Sort(in)
	return b.String(), slices.Compact(in)
}
