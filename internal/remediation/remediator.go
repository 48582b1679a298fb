package remediation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/trust"
)

// Actions carry out the server-side steps. Each method is called from
// the Remediator's goroutine with a deadline, and must record its own
// effect in the ledger as any admin action does (the server's nodes and
// oauth services do); reason says why, for that record.
type Actions interface {
	// Quarantine quarantines one instance (a registry entry, by ID): its
	// credentials are revoked and none issued until it is released.
	Quarantine(ctx context.Context, instance, reason string) error
	// RevokeCredentials revokes every credential of the identity issued
	// so far: its SVIDs (by SPIFFE ID) and its clients' tokens.
	RevokeCredentials(ctx context.Context, identity, reason string) error
	// RequireRotation makes the identity's long-lived credentials
	// (client secrets, registered keys) expire after a grace period, so
	// that their owner must rotate them.
	RequireRotation(ctx context.Context, identity, reason string) error
}

// Instance is one instance of an identity that can be quarantined on its
// own: a registry entry carrying the identity's SPIFFE ID.
type Instance struct {
	// ID is the entry's ID.
	ID string
	// Quarantined says it is quarantined already; it counts towards the
	// ladder's MaxQuarantineShare.
	Quarantined bool
	// Implicated says one of the credentials the signals named was
	// issued to it: implicated instances are quarantined first.
	Implicated bool
}

// Fleet lists an identity's instances. credentials are the IDs of the
// credentials (certificate serials, token IDs) recent signals named, for
// Implicated. An identity without instances (a client ID, another trust
// domain) has none: it is never quarantined.
type Fleet interface {
	Instances(ctx context.Context, identity string, credentials []string) ([]Instance, error)
}

// States gives an identity's current trust state; *trust.Engine
// implements it.
type States interface {
	State(identity string) trust.State
}

// Auditor records events in the ledger; the ledger implements it.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
}

// Notifier tells people of each step; [Webhook] implements it. Notify
// must not block.
type Notifier interface {
	Notify(n Notification)
}

// Config configures a [Remediator]. Zero values of optional fields are
// documented defaults.
type Config struct {
	// Ladders are the ladders, as [Parse] returns them in a File; an
	// identity is handled by the first that selects it. Zero fields take
	// the defaults Parse fills.
	Ladders []Ladder
	// Auditor records every step, dry-run step and skipped step.
	// Required.
	Auditor Auditor
	// Actions carries out server-side steps; required when an enforcing
	// ladder has one.
	Actions Actions
	// Fleet lists instances; required when a ladder quarantines (a dry
	// run too: it says which instances it would have quarantined).
	Fleet Fleet
	// States, if set, is asked for the state of every caller in an
	// episode at each tick, in case a Change was dropped.
	States States
	// Notifier, if set, is told of every event the ladder records.
	Notifier Notifier
	// Active, if set, says whether this replica acts: when it answers
	// false, the Remediator follows its callers' episodes as the active
	// replica does (same changes, same ladders) but neither acts nor
	// records, so that it can take over where the other left off. The
	// server passes its trust host's Leader. Nil: always active.
	Active func() bool
	// Clock gives the time of steps, delays and cooldowns; time.Now when
	// nil.
	Clock func() time.Time
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Interval is how often Run re-evaluates callers in an episode (for
	// delays and cooldowns that ran out); 5s when zero.
	Interval time.Duration
	// ActionTimeout bounds one action; 30s when zero.
	ActionTimeout time.Duration
	// MaxPending bounds the identities whose changes wait for Run; a
	// change for another identity is dropped (and counted) when it is
	// full. 10,000 when zero.
	MaxPending int
	// MaxEpisodes bounds the callers in an episode at once; 100,000 when
	// zero.
	MaxEpisodes int
}

// Defaults of [Config].
const (
	DefaultInterval      = 5 * time.Second
	DefaultActionTimeout = 30 * time.Second
	DefaultMaxPending    = 10_000
	DefaultMaxEpisodes   = 100_000
)

// ErrConfig is wrapped by the errors of [New] for an invalid Config.
var ErrConfig = errors.New("remediation: invalid config")

// Actor is who the ladder's events and actions are by.
func Actor() audit.Actor { return audit.Actor{Kind: "system", ID: "kith-remediation"} }

// Stats counts what a Remediator has done.
type Stats struct {
	// Changes and Signals count what it was fed; Dropped the changes and
	// signals it dropped because MaxPending identities were waiting.
	Changes, Signals, Dropped int64
	// Episodes is the number of callers in an episode now; Overflow the
	// episodes not opened because MaxEpisodes were.
	Episodes, Overflow int64
	// Acted, DryRun, Skipped and Failed count the steps recorded of each
	// kind.
	Acted, DryRun, Skipped, Failed int64
	// Unrecorded counts events the Auditor refused.
	Unrecorded int64
}

// Remediator runs the ladders: it is fed trust changes and signals
// ([Remediator.Change], [Remediator.Signal], which queue and return, so
// that it can be the trust engine's Sink or part of it) and acts from
// [Remediator.Run].
type Remediator struct {
	cfg     Config
	ladders []compiled

	mu      sync.Mutex
	pending map[string]update   // latest change by identity
	creds   map[string][]string // credentials signals named, by identity
	wake    chan struct{}
	stats   Stats

	// Owned by the goroutine of Run.
	episodes map[string]*episode
	recent   map[string][]string  // credentials recent signals named, by identity
	lastAct  map[string]time.Time // last server-side action by identity, across episodes
	follower bool                 // Active said no at the start of this round
}

// compiled is a ladder with its patterns compiled.
type compiled struct {
	*Ladder
	ids, allow patterns
	ceiling    trust.Level
}

// update is a caller's trust as last reported.
type update struct {
	trust   policy.Trust
	reasons []trust.Reason
}

// New returns a Remediator for cfg. It returns an error wrapping
// ErrConfig for an invalid ladder or a missing dependency.
func New(cfg Config) (*Remediator, error) {
	if cfg.Auditor == nil {
		return nil, fmt.Errorf("%w: Auditor is required", ErrConfig)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&cfg.Interval, DefaultInterval)
	setDefault(&cfg.ActionTimeout, DefaultActionTimeout)
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxEpisodes <= 0 {
		cfg.MaxEpisodes = DefaultMaxEpisodes
	}
	r := &Remediator{cfg: cfg, pending: map[string]update{}, creds: map[string][]string{},
		wake:     make(chan struct{}, 1),
		episodes: map[string]*episode{}, recent: map[string][]string{}, lastAct: map[string]time.Time{}}
	names := map[string]bool{}
	for i := range cfg.Ladders {
		l := cfg.Ladders[i] // a copy, defaults filled
		c, err := compile(&l)
		if err != nil {
			return nil, fmt.Errorf("%w: ladder %d (%q): %v", ErrConfig, i, l.Name, err)
		}
		if names[l.Name] {
			return nil, fmt.Errorf("%w: two ladders are named %q", ErrConfig, l.Name)
		}
		names[l.Name] = true
		for _, s := range l.Steps {
			switch {
			case s.Action == ActionQuarantine && cfg.Fleet == nil:
				return nil, fmt.Errorf("%w: ladder %q quarantines: Fleet is required", ErrConfig, l.Name)
			case s.Action.ServerSide() && l.Mode == ModeEnforce && cfg.Actions == nil:
				return nil, fmt.Errorf("%w: ladder %q enforces %s: Actions is required", ErrConfig, l.Name, s.Action)
			}
		}
		r.ladders = append(r.ladders, c)
	}
	return r, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// compile fills l's defaults, checks it and compiles its patterns.
func compile(l *Ladder) (compiled, error) {
	if l.Mode == "" {
		l.Mode = ModeDryRun
	}
	if l.Cooldown == 0 {
		l.Cooldown = DefaultCooldown
	}
	if l.MaxQuarantineShare == 0 {
		l.MaxQuarantineShare = DefaultMaxQuarantineShare
	}
	if l.Evidence.Signals == 0 {
		l.Evidence.Signals = DefaultMinSignals
	}
	switch {
	case !validName(l.Name):
		return compiled{}, errors.New("the name must be 1 to 128 letters, digits, '.', '_' or '-'")
	case l.Mode != ModeDryRun && l.Mode != ModeEnforce:
		return compiled{}, fmt.Errorf("unknown mode %q", l.Mode)
	case l.Cooldown < 0 || l.Evidence.Signals < 0:
		return compiled{}, errors.New("cooldown and min_signals must not be negative")
	case math.IsNaN(l.MaxQuarantineShare) || l.MaxQuarantineShare < 0 || l.MaxQuarantineShare > 1:
		return compiled{}, errors.New("max_quarantine_share must be above 0 and at most 1")
	case len(l.Identities) == 0:
		return compiled{}, errors.New("identities is empty")
	case len(l.Steps) == 0 || len(l.Steps) > MaxSteps:
		return compiled{}, fmt.Errorf("want 1 to %d steps", MaxSteps)
	}
	l.Steps = append([]Step(nil), l.Steps...)
	for i, s := range l.Steps {
		if !s.Action.valid() {
			return compiled{}, fmt.Errorf("step %d: unknown action %q", i, s.Action)
		}
		if s.Level >= trust.LevelHigh || s.After < 0 {
			return compiled{}, fmt.Errorf("step %d: the level must be medium, low or untrusted, after not negative", i)
		}
	}
	c := compiled{Ladder: l, ceiling: l.ceiling()}
	for _, set := range []struct {
		src []string
		dst *patterns
	}{{l.Identities, &c.ids}, {l.Allow, &c.allow}} {
		for _, s := range set.src {
			p, err := compilePattern(s)
			if err != nil {
				return compiled{}, fmt.Errorf("pattern %q: %v", s, err)
			}
			*set.dst = append(*set.dst, p)
		}
	}
	return c, nil
}

// ladderFor returns the first ladder that selects identity, or nil.
func (r *Remediator) ladderFor(identity string) *compiled {
	for i := range r.ladders {
		if r.ladders[i].ids.match(identity) {
			return &r.ladders[i]
		}
	}
	return nil
}

// Change queues a change of a caller's trust for Run; it never blocks.
// Changes for one identity coalesce: Run sees the latest. A change for a
// new identity while MaxPending identities wait is dropped and counted.
func (r *Remediator) Change(c trust.Change) {
	r.mu.Lock()
	r.stats.Changes++
	if _, ok := r.pending[c.Identity]; !ok && len(r.pending) >= r.cfg.MaxPending {
		r.stats.Dropped++
		r.mu.Unlock()
		return
	}
	r.pending[c.Identity] = update{trust: c.To, reasons: c.Reasons}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// maxCreds bounds the credentials remembered per identity.
const maxCreds = 8

// Signal remembers the credential a signal names, to find the instances
// it implicates; it never blocks. The signal's weight on trust arrives
// with the Change that follows it.
func (r *Remediator) Signal(s trust.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Signals++
	if s.Credential == "" {
		return
	}
	cs, ok := r.creds[s.Identity]
	if !ok && len(r.creds) >= r.cfg.MaxPending {
		r.stats.Dropped++
		return
	}
	r.creds[s.Identity] = addCred(cs, s.Credential)
}

// addCred adds c to the most recent credentials cs, at most maxCreds.
func addCred(cs []string, c string) []string {
	for i, x := range cs {
		if x == c {
			cs = append(cs[:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == maxCreds {
		cs = cs[1:]
	}
	return append(cs, c)
}

// Stats returns the Remediator's counters.
func (r *Remediator) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run applies the changes it is fed and re-evaluates callers in an
// episode every Interval, until ctx is done; it returns nil then. Run
// must be called once.
func (r *Remediator) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
			r.process(ctx)
		case <-t.C:
			r.tick(ctx)
		}
	}
}

// count adds to a counter.
func (r *Remediator) count(c *int64, n int64) {
	r.mu.Lock()
	*c += n
	r.mu.Unlock()
}
