package trust

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
)

// TestStarting: a caller without history starts from its credential's
// strength, never zero, and the data plane's default is a medium 700.
func TestStarting(t *testing.T) {
	for _, tc := range []struct {
		cred  string
		score int
		level string
	}{
		{"x509_svid", 900, "high"}, {"mtls_bound", 900, "high"}, {"dpop", 850, "high"},
		{"private_key_jwt", 800, "high"}, {"jwt_svid", 800, "high"},
		{"bearer", 700, "medium"}, {"", 700, "medium"}, {"something-new", 700, "medium"},
		{"client_secret_basic", 600, "medium"},
	} {
		if got := Starting(tc.cred); got.Score != tc.score || got.Level != tc.level {
			t.Errorf("Starting(%q) = %+v, want %d %s", tc.cred, got, tc.score, tc.level)
		}
	}
	e, _, _ := newEngine(t, nil)
	if st := e.State("spiffe://example.org/never"); st.Known || st.Trust.Score != 700 || len(st.Reasons) == 0 {
		t.Errorf("State of an unknown identity = %+v", st)
	}
	c := Call{Time: t0, Caller: "spiffe://example.org/new", CredentialType: "dpop", Target: "spiffe://example.org/x"}
	e.Observe(&c)
	if st := e.State(c.Caller); !st.Known || st.Trust.Score != 850 || st.Trust.Level != "high" || !st.WarmingUp {
		t.Errorf("State of a new dpop caller = %+v", st)
	}
	var nilIndex *Index
	if got := nilIndex.Trust("spiffe://example.org/x"); got.Score != 700 {
		t.Errorf("nil Index gives %+v", got)
	}
}

// TestWeakestCredential: the base is the weakest credential used within a
// day, and rises again a day after the weak one was last used.
func TestWeakestCredential(t *testing.T) {
	e, rec, _ := newEngine(t, nil)
	id := "spiffe://example.org/a"
	obs := func(at time.Duration, cred string) {
		c := Call{Time: t0.Add(at), Caller: id, CredentialType: cred, Target: "spiffe://example.org/x"}
		e.Observe(&c)
	}
	obs(0, "x509_svid")
	obs(time.Hour, "bearer")
	obs(2*time.Hour, "x509_svid")
	if got := e.State(id).Trust.Score; got != 700 {
		t.Errorf("score after a bearer token = %d, want 700", got)
	}
	obs(26*time.Hour, "x509_svid")
	if got := e.State(id).Trust.Score; got != 900 {
		t.Errorf("score a day after the last bearer token = %d, want 900", got)
	}
	if len(rec.changes) != 2 || rec.changes[0].To.Level != "medium" || rec.changes[1].To.Level != "high" {
		t.Errorf("changes = %+v", rec.changes)
	}
}

// TestTrustLifecycle: an attack lowers trust with reasons and level
// changes; recovery is slow and starts once the caller is quiet; Clear
// restores it at once.
func TestTrustLifecycle(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, nil)
	// token replay from a public network: new network (high) and
	// concurrent use (high), in an ordinary order of routes
	attack(e, rec, w, start, 10, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*2*time.Second), 0, k%2)
		c.Source = netip.MustParseAddr("198.51.100.9")
		return c
	}, SourceNewNetwork)
	st := e.State(w.caller)
	if st.Trust.Score != 900-300-300 || st.Trust.Level != "low" {
		t.Fatalf("state after the attack = %+v", st)
	}
	if want := []string{"source.new_network", "source.concurrent"}; !cmp.Equal(st.Trust.Signals, want) {
		t.Errorf("signals = %v, want %v", st.Trust.Signals, want)
	}
	var kinds []string
	for _, r := range st.Reasons {
		kinds = append(kinds, r.Kind+" "+r.Name)
	}
	if want := []string{"credential x509_svid", "signal source.new_network", "signal source.concurrent"}; !cmp.Equal(kinds, want) {
		t.Errorf("reasons = %v, want %v", kinds, want)
	}
	var levels []string
	for _, c := range rec.changes {
		if c.LevelChanged() {
			levels = append(levels, c.From.Level+"→"+c.To.Level+" ("+c.Cause+")")
		}
	}
	if want := []string{"high→medium (signal source.new_network)", "medium→low (signal source.concurrent)"}; !cmp.Equal(levels, want) {
		t.Errorf("level changes = %v, want %v", levels, want)
	}

	// Recovery: nothing during the quiet period, then a half-life of 6h.
	tick := func(at time.Time) State {
		e.cfg.Clock = func() time.Time { return at }
		e.Tick()
		return e.State(w.caller)
	}
	last := rec.signals[len(rec.signals)-1].Time
	if got := tick(last.Add(20 * time.Minute)).Trust.Score; got != 300 {
		t.Errorf("score 20m after the attack = %d, want 300 (quiet period)", got)
	}
	got := tick(last.Add(30*time.Minute + 6*time.Hour)).Trust.Score
	if got < 590 || got > 610 {
		t.Errorf("score a half-life after the quiet period = %d, want about 600", got)
	}
	if c := rec.changes[len(rec.changes)-1]; c.Cause != "recovery" || c.To.Level != "medium" {
		t.Errorf("last change = %+v, want a recovery to medium", c)
	}

	// Clear restores it at once.
	tick(last.Add(7 * time.Hour))
	cleared, err := e.Clear(w.caller, "admin-1")
	if err != nil {
		t.Fatal(err)
	}
	if cleared.Trust.Score != 900 || len(cleared.Trust.Signals) != 0 {
		t.Errorf("state after Clear = %+v", cleared)
	}
	if c := rec.changes[len(rec.changes)-1]; c.Cause != "cleared by admin-1" || c.To.Score != 900 {
		t.Errorf("last change = %+v", c)
	}
	if _, err := e.Clear("spiffe://example.org/nobody", "admin-1"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Clear of an unknown identity: %v, want ErrUnknown", err)
	}
	if n := len(e.dirty); n != 0 {
		t.Errorf("%d callers left to recover after Clear", n)
	}
}

// TestContextInputs: a context input weighs until it expires or is
// removed, is listed among the signals, and is validated.
func TestContextInputs(t *testing.T) {
	e, rec, clk := newEngine(t, nil)
	id := "spiffe://example.org/a"
	c := Call{Time: t0, Caller: id, CredentialType: "x509_svid", Target: "spiffe://example.org/x"}
	e.Observe(&c)
	in := ContextInput{ID: "cve-1", Identity: id, Kind: "vulnerability", Reason: "CVE-2026-1 (critical) in image a:1",
		Weight: 450, Expires: t0.Add(time.Hour), Source: "scanner"}
	if err := e.AddContext(in); err != nil {
		t.Fatal(err)
	}
	st := e.State(id)
	if st.Trust.Score != 450 || st.Trust.Level != "low" || !slices.Contains(st.Trust.Signals, "context.vulnerability") {
		t.Errorf("state with the input = %+v", st.Trust)
	}
	if r := st.Reasons[len(st.Reasons)-1]; r.Kind != "context" || r.Points != -450 || r.Detail != in.Reason {
		t.Errorf("reason = %+v", r)
	}
	in.Weight = 100 // replace by ID
	if err := e.AddContext(in); err != nil {
		t.Fatal(err)
	}
	if got := e.State(id).Trust.Score; got != 800 {
		t.Errorf("score after replacing the input = %d, want 800", got)
	}
	clk.now = t0.Add(61 * time.Minute)
	e.Tick()
	if got := e.State(id); got.Trust.Score != 900 || len(got.Trust.Signals) != 0 || len(e.Contexts(id)) != 0 {
		t.Errorf("state after expiry = %+v", got.Trust)
	}
	if ch := rec.changes[len(rec.changes)-1]; ch.Cause != "context expired" {
		t.Errorf("last change = %+v", ch)
	}
	// An identity not seen yet is tracked from its first input.
	in2 := ContextInput{ID: "leak-1", Identity: "spiffe://example.org/b", Kind: "leak", Reason: "client secret in a public repo",
		Weight: 600, Expires: clk.now.Add(24 * time.Hour)}
	if err := e.AddContext(in2); err != nil {
		t.Fatal(err)
	}
	if got := e.State(in2.Identity).Trust.Score; got != 100 {
		t.Errorf("score of a leaked new identity = %d, want 100", got)
	}
	if err := e.RemoveContext(in2.Identity, "leak-1"); err != nil {
		t.Fatal(err)
	}
	if got := e.State(in2.Identity).Trust.Score; got != 700 {
		t.Errorf("score after removing the input = %d, want 700", got)
	}
	if err := e.RemoveContext(in2.Identity, "leak-1"); !errors.Is(err, ErrUnknown) {
		t.Errorf("removing it again: %v", err)
	}
	for _, bad := range []ContextInput{
		{ID: "x", Identity: id, Kind: "k", Weight: 1, Expires: clk.now.Add(time.Hour)},
		{ID: "x", Identity: id, Kind: "k", Reason: "r", Weight: 1001, Expires: clk.now.Add(time.Hour)},
		{ID: "x", Identity: id, Kind: "k", Reason: "r", Weight: 1, Expires: clk.now},
	} {
		if err := e.AddContext(bad); !errors.Is(err, ErrContext) {
			t.Errorf("AddContext(%+v) = %v, want ErrContext", bad, err)
		}
	}
}

// TestTableIndex: the table lists every tracked identity; an index built
// from it answers as the engine does, deltas apply, unknown callers get
// the default.
func TestTableIndex(t *testing.T) {
	e, rec, _ := newEngine(t, nil)
	for i, cred := range []string{"x509_svid", "bearer", "client_secret"} {
		c := Call{Time: t0, Caller: "spiffe://example.org/" + string(rune('a'+i)), CredentialType: cred, Target: "spiffe://example.org/x"}
		e.Observe(&c)
	}
	if err := e.AddContext(ContextInput{ID: "1", Identity: "spiffe://example.org/a", Kind: "leak", Reason: "r", Weight: 500, Expires: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tab := e.Table()
	want := []Entry{
		{Identity: "spiffe://example.org/a", Score: 400, Signals: []string{"context.leak"}},
		{Identity: "spiffe://example.org/b", Score: 700},
		{Identity: "spiffe://example.org/c", Score: 600},
	}
	if diff := cmp.Diff(want, tab.Entries); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	x := NewIndex(tab)
	if got := x.Trust("spiffe://example.org/a"); !cmp.Equal(got, policy.Trust{Score: 400, Level: "low", Signals: []string{"context.leak"}}) {
		t.Errorf("Trust(a) = %+v", got)
	}
	if got := x.Trust("spiffe://example.org/zz"); got.Score != 700 || got.Level != "medium" {
		t.Errorf("Trust(unknown) = %+v", got)
	}
	y := x.With(rec.changes[len(rec.changes)-1].Entry(), Entry{Identity: "spiffe://example.org/d", Score: 100})
	if got := y.Trust("spiffe://example.org/d"); got.Level != "untrusted" {
		t.Errorf("after a delta, Trust(d) = %+v", got)
	}
	if x.Trust("spiffe://example.org/d").Score != 700 || y.Len() != 4 {
		t.Errorf("With changed the original index")
	}
}

// TestEvents: signals and level changes map to their ledger events.
func TestEvents(t *testing.T) {
	s := Signal{Time: t0, Identity: "spiffe://example.org/a", Credential: "jti-1", Kind: ErrorsBurst, Severity: High,
		Evidence: map[string]string{"expected": "1%", "seen": "40 of 50"}}
	ev := s.Event()
	if ev.Type != audit.TypeTrustSignal || ev.Target != s.Identity || ev.Details["kind"] != "errors.burst" ||
		ev.Details["severity"] != "high" || ev.Details["credential_id"] != "jti-1" || ev.Details["seen"] != "40 of 50" {
		t.Errorf("signal event = %+v", ev)
	}
	if _, err := audit.Marshal(ev); err != nil {
		t.Error(err)
	}
	c := Change{Time: t0, Identity: s.Identity, From: policy.Trust{Score: 900, Level: "high"},
		To:      policy.Trust{Score: 600, Level: "medium", Signals: []string{"errors.burst"}},
		Reasons: []Reason{{Kind: "credential", Name: "x509_svid", Points: 900}, {Kind: "signal", Name: "errors.burst", Points: -300}},
		Cause:   "signal errors.burst"}
	ev = c.Event()
	if ev.Type != audit.TypeTrustLevelChanged || ev.Trust.Score != 600 || ev.Details["from_level"] != "high" ||
		ev.Reason != "credential x509_svid +900; signal errors.burst -300" || !c.LevelChanged() {
		t.Errorf("change event = %+v", ev)
	}
	if !audit.KnownType(ev.Type) || !audit.KnownType(audit.TypeTrustSignal) {
		t.Error("trust event types are not in audit.Types")
	}
}

// TestConfig: invalid tuning is refused; zero is the default.
func TestConfig(t *testing.T) {
	if _, err := New(Config{Tuning: Tuning{Cooldown: -1}}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative Cooldown: %v", err)
	}
	if _, err := New(Config{Tuning: Tuning{Disabled: []Kind{numKinds}}}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown disabled kind: %v", err)
	}
	e, err := New(Config{})
	if err != nil || e.t.WarmUp != 24*time.Hour || e.seed == 0 {
		t.Errorf("New(Config{}) = %+v, %v", e, err)
	}
	for _, k := range Kinds() {
		if p, err := ParseKind(k.String()); err != nil || p != k {
			t.Errorf("ParseKind(%s) = %v, %v", k, p, err)
		}
	}
}

// TestDisabled: a disabled kind raises nothing.
func TestDisabled(t *testing.T) {
	w := newWorkload("spiffe://example.org/a", 1, 0.5, 4)
	e, rec, start := warmed(t, w, func(tu *Tuning) { tu.Disabled = []Kind{SourceNewNetwork} })
	_, s := attack(e, rec, w, start, 5, func(k int) Call {
		c := w.call(start.Add(time.Duration(k)*time.Minute), 1, 0)
		c.Source, c.Credential = netip.MustParseAddr("192.0.2.1"), "fresh"
		return c
	}, SourceNewNetwork)
	if s != nil {
		t.Errorf("disabled kind raised %v", s)
	}
}
