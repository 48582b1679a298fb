package remediation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/trust"
)

const (
	acted   = audit.TypeRemediationActed
	dryRun  = audit.TypeRemediationDryRun
	skipped = audit.TypeRemediationSkipped
	ok      = audit.OutcomeSuccess
	denied  = audit.OutcomeDenied
	failure = audit.OutcomeFailure
)

// ladder returns an enforcing ladder for every identity of example.org
// with steps.
func ladder(steps ...Step) Ladder {
	return Ladder{Name: "all", Identities: []string{"spiffe://example.org/**"}, Mode: ModeEnforce, Steps: steps}
}

func checkEvents(t *testing.T, got []audit.Event, want ...evsum) {
	t.Helper()
	if d := cmp.Diff(want, summarize(got)); d != "" {
		t.Errorf("events mismatch (-want +got):\n%s", d)
	}
}

func checkCalls(t *testing.T, a *fakeActions, want ...string) {
	t.Helper()
	if d := cmp.Diff(want, a.take()); d != "" {
		t.Errorf("actions mismatch (-want +got):\n%s", d)
	}
}

// TestDataPlaneRungs checks that the rungs policy enforces are recorded
// as reached, in order, a delayed one once its delay ran out at its
// level, with no action and no guard rail.
func TestDataPlaneRungs(t *testing.T) {
	f := newFixture(t, nil, ladder(
		Step{Level: trust.LevelMedium, Action: ActionObserve},
		Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelLow, After: 10 * time.Minute, Action: ActionRateLimit},
	))
	f.feed(change(caller, 650)) // medium, nothing weighs on it: the data-plane rungs need no evidence
	checkEvents(t, f.ev.take(), evsum{acted, "observe", ok, ""})
	f.feed(change(caller, 450, sig("rate.spike", trust.Medium)))
	checkEvents(t, f.ev.take(), evsum{acted, "step_up", ok, ""})
	f.later(9 * time.Minute)
	checkEvents(t, f.ev.take())
	f.later(time.Minute)
	evs := f.ev.take()
	checkEvents(t, evs, evsum{acted, "rate_limit", ok, ""})
	checkCalls(t, f.act)
	if ev := evs[0]; ev.Target != caller || ev.Trust == nil || ev.Trust.Score != 450 || ev.Details["ladder"] != "all" ||
		ev.Details["step"] != "2" || ev.Details["trust_level"] != "low" || ev.Details["after"] != "10m0s" ||
		!strings.Contains(ev.Reason, "enforced by policy on trust.level") {
		t.Errorf("rate_limit event = %+v", ev)
	}
	if n := len(f.notes.ns); n != 3 {
		t.Errorf("%d notifications, want one per event (3)", n)
	}
}

// TestDryRun checks that a dry-run ladder records what it would have
// done, with the instances it would have quarantined, and does nothing.
func TestDryRun(t *testing.T) {
	fleet := fleetFunc(func(string, []string) ([]Instance, error) {
		return []Instance{{ID: "e1"}, {ID: "e2"}}, nil
	})
	l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionQuarantine})
	l.Mode = ModeDryRun
	f := newFixture(t, fleet, l)
	f.feed(change(caller, 100, sig("source.concurrent", trust.Critical)))
	evs := f.ev.take()
	checkEvents(t, evs, evsum{dryRun, "quarantine", ok, "e1"})
	checkCalls(t, f.act)
	if !strings.HasPrefix(evs[0].Reason, "would have quarantined") || evs[0].Details["mode"] != "dry_run" {
		t.Errorf("dry-run event = %+v", evs[0])
	}
}

// TestAllowList checks that an allow-listed identity is never acted on,
// and that the skip is recorded once.
func TestAllowList(t *testing.T) {
	l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials},
		Step{Level: trust.LevelLow, Action: ActionStepUp})
	l.Allow = []string{"spiffe://example.org/billing"}
	f := newFixture(t, nil, l)
	f.feed(change(caller, 100, sig("rate.spike", trust.Critical)))
	checkEvents(t, f.ev.take(), evsum{skipped, "revoke_credentials", denied, GuardAllowList}, evsum{acted, "step_up", ok, ""})
	f.later(time.Hour)
	checkEvents(t, f.ev.take())
	checkCalls(t, f.act)
}

// TestMinEvidence checks both halves of the minimum: the number of
// signals and context inputs, and the gravest severity, the ladder's and
// a step's own.
func TestMinEvidence(t *testing.T) {
	l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials},
		Step{Level: trust.LevelUntrusted, Action: ActionRequireRotation, Evidence: Evidence{Severity: trust.Critical}})
	l.Evidence = Evidence{Signals: 2, Severity: trust.High}
	l.Cooldown = time.Second
	f := newFixture(t, nil, l)

	f.feed(change(caller, 150, sig("rate.spike", trust.Critical)))
	checkEvents(t, f.ev.take(), evsum{skipped, "revoke_credentials", denied, GuardEvidence},
		evsum{skipped, "require_rotation", denied, GuardEvidence})
	// Two reasons, but the gravest only medium: still held, not recorded
	// again.
	f.feed(change(caller, 120, sig("rate.spike", trust.Medium), sig("endpoint.new", trust.Low)))
	checkEvents(t, f.ev.take())
	checkCalls(t, f.act)

	// A context input counts, graded by weight: 300 is high.
	ctx := trust.Reason{Kind: "context", Name: "vulnerability", Points: -300}
	f.feed(change(caller, 100, sig("rate.spike", trust.Medium), ctx))
	checkEvents(t, f.ev.take(), evsum{acted, "revoke_credentials", ok, ""})
	checkCalls(t, f.act, "revoke "+caller)

	// The rotation step wants a critical one.
	f.later(2 * time.Second)
	checkEvents(t, f.ev.take())
	f.feed(change(caller, 90, sig("source.concurrent", trust.Critical), ctx))
	checkEvents(t, f.ev.take(), evsum{acted, "require_rotation", ok, ""})
	checkCalls(t, f.act, "rotate "+caller)
}

// TestCooldown checks that two server-side actions on one identity are
// at least the cooldown apart, within an episode and across episodes.
func TestCooldown(t *testing.T) {
	l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials},
		Step{Level: trust.LevelUntrusted, Action: ActionRequireRotation})
	l.Cooldown = 15 * time.Minute
	f := newFixture(t, nil, l)
	bad := change(caller, 100, sig("source.concurrent", trust.Critical))
	f.feed(bad)
	checkEvents(t, f.ev.take(), evsum{acted, "revoke_credentials", ok, ""},
		evsum{skipped, "require_rotation", denied, GuardCooldown})
	checkCalls(t, f.act, "revoke "+caller)
	f.later(14 * time.Minute)
	checkEvents(t, f.ev.take())
	f.later(time.Minute)
	checkEvents(t, f.ev.take(), evsum{acted, "require_rotation", ok, ""})
	checkCalls(t, f.act, "rotate "+caller)

	// Recovery ends the episode; a new fall within the cooldown of the
	// last action is held back.
	f.feed(change(caller, 900))
	f.later(5 * time.Minute)
	f.feed(bad)
	checkEvents(t, f.ev.take(), evsum{skipped, "revoke_credentials", denied, GuardCooldown},
		evsum{skipped, "require_rotation", denied, GuardCooldown})
	// The rotation step stays held by the cooldown, recorded once.
	f.later(10 * time.Minute)
	checkEvents(t, f.ev.take(), evsum{acted, "revoke_credentials", ok, ""})
}

// TestQuarantineShare checks the cap on the share of an identity's
// instances quarantined, counting those quarantined already, and the
// choice of implicated instances first.
func TestQuarantineShare(t *testing.T) {
	tests := []struct {
		name  string
		share float64
		insts []Instance
		want  evsum
		calls []string
	}{
		{"half of four", 0.5, []Instance{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
			evsum{acted, "quarantine", ok, "a b"}, []string{"quarantine a", "quarantine b"}},
		{"implicated first", 0.5, []Instance{{ID: "a"}, {ID: "b"}, {ID: "c", Implicated: true}, {ID: "d"}},
			evsum{acted, "quarantine", ok, "c"}, []string{"quarantine c"}},
		{"implicated over the cap", 0.25, []Instance{{ID: "a", Implicated: true}, {ID: "b", Implicated: true}, {ID: "c"}, {ID: "d"}},
			evsum{acted, "quarantine", ok, "a"}, []string{"quarantine a"}},
		{"already at the cap", 0.5, []Instance{{ID: "a", Quarantined: true}, {ID: "b", Quarantined: true}, {ID: "c"}, {ID: "d"}},
			evsum{skipped, "quarantine", denied, GuardShare}, nil},
		{"one below the cap", 0.75, []Instance{{ID: "a", Quarantined: true}, {ID: "b"}, {ID: "c"}, {ID: "d"}},
			evsum{acted, "quarantine", ok, "b c"}, []string{"quarantine b", "quarantine c"}},
		{"only instance", 0.5, []Instance{{ID: "a", Implicated: true}},
			evsum{skipped, "quarantine", denied, GuardShare}, nil},
		{"only instance, share 1", 1, []Instance{{ID: "a"}},
			evsum{acted, "quarantine", ok, "a"}, []string{"quarantine a"}},
		{"no instances", 0.5, nil, evsum{skipped, "quarantine", denied, GuardNoInstances}, nil},
		{"all quarantined", 1, []Instance{{ID: "a", Quarantined: true}},
			evsum{skipped, "quarantine", denied, GuardNoInstances}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotCreds []string
			fleet := fleetFunc(func(id string, creds []string) ([]Instance, error) {
				gotCreds = creds
				return tc.insts, nil
			})
			l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionQuarantine})
			l.MaxQuarantineShare = tc.share
			f := newFixture(t, fleet, l)
			f.r.Signal(trust.Signal{Identity: caller, Credential: "serial-1", Kind: trust.SourceConcurrent, Severity: trust.Critical})
			f.feed(change(caller, 100, sig("source.concurrent", trust.Critical)))
			checkEvents(t, f.ev.take(), tc.want)
			checkCalls(t, f.act, tc.calls...)
			if d := cmp.Diff([]string{"serial-1"}, gotCreds); d != "" {
				t.Errorf("credentials passed to the fleet (-want +got):\n%s", d)
			}
		})
	}
}

// TestActionFailure checks that a failed action is recorded with its
// error, retried after the retry delay, and given up after maxTries.
func TestActionFailure(t *testing.T) {
	l := ladder(Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials})
	l.Cooldown = time.Second
	f := newFixture(t, nil, l)
	f.act.err = errors.New("store down")
	f.feed(change(caller, 100, sig("rate.spike", trust.Critical)))
	evs := f.ev.take()
	checkEvents(t, evs, evsum{acted, "revoke_credentials", failure, ""})
	if evs[0].Details["error"] != "store down" || evs[0].Details["attempt"] != "1" {
		t.Errorf("failure event details = %v", evs[0].Details)
	}
	f.later(minRetry - time.Second)
	checkEvents(t, f.ev.take())
	f.later(time.Second)
	checkEvents(t, f.ev.take(), evsum{acted, "revoke_credentials", failure, ""})
	f.later(minRetry)
	evs = f.ev.take()
	checkEvents(t, evs, evsum{acted, "revoke_credentials", failure, ""})
	if !strings.Contains(evs[0].Reason, "giving up") {
		t.Errorf("third failure reason = %q, want giving up", evs[0].Reason)
	}
	f.act.err = nil
	f.later(time.Hour)
	checkEvents(t, f.ev.take())
	if s := f.r.Stats(); s.Failed != 3 || s.Acted != 0 {
		t.Errorf("stats = %+v, want 3 failed", s)
	}
}

// TestLadderSelection checks that the first ladder that selects an
// identity handles it, and that others are left alone.
func TestLadderSelection(t *testing.T) {
	first := Ladder{Name: "payments", Identities: []string{"spiffe://example.org/payments"}, Mode: ModeEnforce,
		Steps: []Step{{Level: trust.LevelLow, Action: ActionObserve}}}
	second := ladder(Step{Level: trust.LevelLow, Action: ActionStepUp})
	f := newFixture(t, nil, first, second)
	f.feed(change("spiffe://example.org/payments", 300), change("spiffe://other.org/x", 100))
	evs := f.ev.take()
	checkEvents(t, evs, evsum{acted, "observe", ok, ""})
	if evs[0].Details["ladder"] != "payments" {
		t.Errorf("ladder = %q, want payments", evs[0].Details["ladder"])
	}
}

// TestEpisodes checks that a step is taken once per episode, that an
// episode ends when trust rises above the ladder's steps, and that a new
// fall takes the steps again.
func TestEpisodes(t *testing.T) {
	f := newFixture(t, nil, ladder(Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelLow, After: time.Hour, Action: ActionRateLimit}))
	f.feed(change(caller, 400))
	f.feed(change(caller, 300), change(caller, 350))
	checkEvents(t, f.ev.take(), evsum{acted, "step_up", ok, ""})
	f.later(30 * time.Minute)
	f.feed(change(caller, 600)) // up to medium: the episode ends
	if s := f.r.Stats(); s.Episodes != 0 {
		t.Errorf("%d episodes after recovery, want 0", s.Episodes)
	}
	f.later(30 * time.Minute)
	f.feed(change(caller, 450)) // a new fall: the delay counts again
	checkEvents(t, f.ev.take(), evsum{acted, "step_up", ok, ""})
	f.later(59 * time.Minute)
	checkEvents(t, f.ev.take())
	f.later(time.Minute)
	checkEvents(t, f.ev.take(), evsum{acted, "rate_limit", ok, ""})
}

// fixedStates is a States answering one state for everyone.
type fixedStates struct{ s trust.State }

func (f *fixedStates) State(id string) trust.State { return f.s }

// TestStatesAtTick checks that a tick reads States, so that a dropped
// change is made good.
func TestStatesAtTick(t *testing.T) {
	states := &fixedStates{}
	ev := &events{}
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelUntrusted, Action: ActionObserve})}, Auditor: ev, States: states})
	if err != nil {
		t.Fatal(err)
	}
	r.Change(change(caller, 400))
	r.process(t.Context())
	checkEvents(t, ev.take(), evsum{acted, "step_up", ok, ""})
	c := change(caller, 100)
	states.s = trust.State{Identity: caller, Trust: c.To, Reasons: c.Reasons}
	r.tick(t.Context())
	checkEvents(t, ev.take(), evsum{acted, "observe", ok, ""})
}

// TestPendingBounded checks that changes of more identities than
// MaxPending are dropped and counted, while one identity's coalesce.
func TestPendingBounded(t *testing.T) {
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp})},
		Auditor: &events{}, MaxPending: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r.Change(change("spiffe://example.org/a", 300))
	}
	r.Change(change("spiffe://example.org/b", 300))
	r.Change(change("spiffe://example.org/c", 300))
	if s := r.Stats(); s.Changes != 5 || s.Dropped != 1 {
		t.Errorf("stats = %+v, want 5 changes, 1 dropped", s)
	}
}

// TestRun checks the goroutine: a change fed to a running Remediator is
// acted on without a tick, and Run returns when its context ends.
func TestRun(t *testing.T) {
	ev := &events{}
	r, err := New(Config{Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: ActionStepUp})},
		Auditor: ev, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.Change(change(caller, 300))
	await.Until(t, "the step_up event", 5*time.Second, ev.Changed, func() bool { return len(ev.all()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestUnrecorded checks that an event the ledger refuses is counted and
// the ladder goes on.
func TestUnrecorded(t *testing.T) {
	f := newFixture(t, nil, ladder(Step{Level: trust.LevelLow, Action: ActionStepUp}))
	f.ev.fail = true
	f.feed(change(caller, 300))
	if s := f.r.Stats(); s.Unrecorded != 1 || s.Acted != 1 {
		t.Errorf("stats = %+v, want 1 acted, 1 unrecorded", s)
	}
}

func TestNewRefuses(t *testing.T) {
	q := ladder(Step{Level: trust.LevelUntrusted, Action: ActionQuarantine})
	rev := ladder(Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials})
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no auditor", Config{}, "Auditor is required"},
		{"quarantine without fleet", Config{Auditor: &events{}, Actions: &fakeActions{}, Ladders: []Ladder{q}}, "Fleet is required"},
		{"enforce without actions", Config{Auditor: &events{}, Ladders: []Ladder{rev}}, "Actions is required"},
		{"two names", Config{Auditor: &events{}, Actions: &fakeActions{}, Ladders: []Ladder{rev, rev}}, "two ladders"},
		{"level high", Config{Auditor: &events{}, Ladders: []Ladder{ladder(Step{Level: trust.LevelHigh, Action: ActionObserve})}}, "level"},
		{"bad action", Config{Auditor: &events{}, Ladders: []Ladder{ladder(Step{Level: trust.LevelLow, Action: "nuke"})}}, "unknown action"},
		{"bad pattern", Config{Auditor: &events{}, Ladders: []Ladder{{Name: "x", Identities: []string{"a/**/b"},
			Steps: []Step{{Level: trust.LevelLow, Action: ActionObserve}}}}}, "pattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
	// A dry-run ladder needs no Actions.
	dry := rev
	dry.Mode = ModeDryRun
	if _, err := New(Config{Auditor: &events{}, Ladders: []Ladder{dry}}); err != nil {
		t.Errorf("New(dry run without Actions) = %v", err)
	}
}

// TestFollower checks a replica that is not active: it follows the
// episodes without acting or recording, and once active goes on from
// where the active replica would be, without repeating its steps.
func TestFollower(t *testing.T) {
	active := false
	ev, act, clk := &events{}, &fakeActions{}, &clock{now: t0}
	r, err := New(Config{Ladders: []Ladder{ladder(
		Step{Level: trust.LevelLow, Action: ActionStepUp},
		Step{Level: trust.LevelUntrusted, Action: ActionRevokeCredentials},
		Step{Level: trust.LevelUntrusted, After: time.Hour, Action: ActionRequireRotation},
	)}, Auditor: ev, Actions: act, Clock: clk.Now, Active: func() bool { return active }})
	if err != nil {
		t.Fatal(err)
	}
	r.Change(change(caller, 100, sig("source.concurrent", trust.Critical)))
	r.process(t.Context())
	checkEvents(t, ev.take())
	checkCalls(t, act)
	if s := r.Stats(); s.Acted != 0 || s.Episodes != 1 {
		t.Errorf("follower stats = %+v, want an episode and nothing acted", s)
	}
	active = true
	clk.Advance(30 * time.Minute)
	r.tick(t.Context())
	checkEvents(t, ev.take())
	clk.Advance(30 * time.Minute)
	r.tick(t.Context())
	checkEvents(t, ev.take(), evsum{acted, "require_rotation", ok, ""})
	checkCalls(t, act, "rotate "+caller)
}
