package remediation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
)

var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// events is an Auditor that keeps what it is given.
type events struct {
	mu      sync.Mutex
	evs     []audit.Event
	fail    bool
	changed chan struct{}
}

func (e *events) Record(_ context.Context, ev audit.Event) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return 0, errors.New("ledger down")
	}
	if !audit.KnownType(ev.Type) {
		panic("unknown event type " + ev.Type)
	}
	e.evs = append(e.evs, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
	return int64(len(e.evs)), nil
}

// Changed returns a channel closed at the next event.
func (e *events) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

func (e *events) all() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audit.Event(nil), e.evs...)
}

// take returns the events since the last take.
func (e *events) take() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	evs := e.evs
	e.evs = nil
	return evs
}

// evsum is what a test compares of an event: type, action, outcome and
// the guard or instances.
type evsum struct {
	Type, Action string
	Outcome      audit.Outcome
	Extra        string
}

func summarize(evs []audit.Event) []evsum {
	var out []evsum
	for _, ev := range evs {
		s := evsum{Type: ev.Type, Action: ev.Action, Outcome: ev.Outcome}
		switch {
		case ev.Details["guard"] != "":
			s.Extra = ev.Details["guard"]
		case ev.Details["instances"] != "":
			s.Extra = ev.Details["instances"]
		}
		out = append(out, s)
	}
	return out
}

// fakeActions records the actions taken; err, if set, fails them.
type fakeActions struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (a *fakeActions) do(what string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.calls = append(a.calls, what)
	return nil
}

func (a *fakeActions) Quarantine(_ context.Context, instance, reason string) error {
	return a.do("quarantine " + instance)
}

func (a *fakeActions) RevokeCredentials(_ context.Context, identity, reason string) error {
	return a.do("revoke " + identity)
}

func (a *fakeActions) RequireRotation(_ context.Context, identity, reason string) error {
	return a.do("rotate " + identity)
}

func (a *fakeActions) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.calls
	a.calls = nil
	return c
}

// fleetFunc is a Fleet.
type fleetFunc func(identity string, creds []string) ([]Instance, error)

func (f fleetFunc) Instances(_ context.Context, identity string, creds []string) ([]Instance, error) {
	if f == nil {
		return nil, nil
	}
	return f(identity, creds)
}

// notes is a Notifier that keeps what it is told.
type notes struct {
	mu sync.Mutex
	ns []Notification
}

func (n *notes) Notify(x Notification) {
	n.mu.Lock()
	n.ns = append(n.ns, x)
	n.mu.Unlock()
}

const caller = "spiffe://example.org/billing"

// sig is a signal reason.
func sig(kind string, sev trust.Severity) trust.Reason {
	return trust.Reason{Kind: "signal", Name: kind, Severity: sev, Points: -150}
}

// change is a change of caller's trust to score with reasons (the
// credential's base is added).
func change(id string, score int, rs ...trust.Reason) trust.Change {
	to := policy.Trust{Score: score, Level: trust.LevelOf(score).String()}
	for _, r := range rs {
		to.Signals = append(to.Signals, r.Name)
	}
	return trust.Change{Time: t0, Identity: id, To: to,
		Reasons: append([]trust.Reason{{Kind: "credential", Name: "x509_svid", Points: 900}}, rs...)}
}

// fixture is a Remediator over fakes, driven by hand.
type fixture struct {
	t     *testing.T
	r     *Remediator
	clock *clock
	ev    *events
	act   *fakeActions
	notes *notes
}

func newFixture(t *testing.T, fleet Fleet, ladders ...Ladder) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: &clock{now: t0}, ev: &events{}, act: &fakeActions{}, notes: &notes{}}
	if fleet == nil {
		fleet = fleetFunc(nil)
	}
	r, err := New(Config{Ladders: ladders, Auditor: f.ev, Actions: f.act, Fleet: fleet, Notifier: f.notes, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	return f
}

// feed hands changes to the Remediator and lets it process them.
func (f *fixture) feed(cs ...trust.Change) {
	for _, c := range cs {
		f.r.Change(c)
	}
	f.r.process(f.t.Context())
}

// later advances the clock by d and ticks.
func (f *fixture) later(d time.Duration) {
	f.clock.Advance(d)
	f.r.tick(f.t.Context())
}
