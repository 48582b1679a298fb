package trust

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// Sink receives what the engine finds, as it finds it: each [Signal]
// once per incident, and each [Change] of a caller's trust state. Its
// methods are called synchronously, under the engine's lock; they must
// not block (queue and return) and must not call the engine. The server's
// sink writes signals and level changes to the ledger and pushes changed
// states to the data plane.
type Sink interface {
	Signal(s Signal)
	Change(c Change)
}

// Engine is the behavioural-trust engine: it learns each caller's
// behaviour from its calls, raises signals when a caller departs from
// it, and keeps each caller's trust state. It is safe for concurrent use;
// one lock guards it, and each call costs well under a microsecond, so a
// single goroutine feeding it keeps up with a fleet.
type Engine struct {
	mu   sync.Mutex
	cfg  Config
	t    Tuning
	seed uint64
	rng  uint64

	// Durations of t in seconds.
	warmUp, cooldown, stable, overlap, quiet uint32
	halfLife                                 float64
	disabled                                 [numKinds]bool
	need                                     [40]uint8 // surpriseTable

	index      map[string]int32 // identity → index of ids and the arena
	ids        []string         // identities by index; "" for a free index
	chunks     []*[chunkSize]caller
	free       []int32
	contexts   map[string][]ContextInput // by identity
	dirty      map[int32]struct{}        // callers whose score may recover or expire
	maxCallers int

	stats Stats
}

// Stats counts what an engine has done.
type Stats struct {
	// Calls is the number of calls observed; Ignored the calls without an
	// identity or a time, which were not.
	Calls, Ignored int64
	// Callers is the number of identities tracked; Evicted the number
	// forgotten to make room.
	Callers, Evicted int64
	// Signals and Changes count what went to the sink.
	Signals, Changes int64
}

// New returns an engine configured by cfg. It returns an error wrapping
// ErrConfig for invalid tuning.
func New(cfg Config) (*Engine, error) {
	t, err := cfg.Tuning.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.MaxCallers < 0 {
		return nil, fmt.Errorf("%w: MaxCallers is negative", ErrConfig)
	}
	if cfg.MaxCallers == 0 {
		cfg.MaxCallers = 1 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Engine{
		cfg: cfg, t: t, seed: cfg.HashSeed,
		warmUp: secs(t.WarmUp), cooldown: secs(t.Cooldown), stable: secs(t.NewNetworkStable),
		overlap: secs(t.Overlap), quiet: secs(t.QuietPeriod), halfLife: t.RecoveryHalfLife.Seconds(),
		index: map[string]int32{}, contexts: map[string][]ContextInput{}, dirty: map[int32]struct{}{},
		maxCallers: cfg.MaxCallers, need: surpriseTable(),
	}
	for _, k := range t.Disabled {
		e.disabled[k] = true
	}
	if e.seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		e.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	e.rng = e.seed | 1
	return e, nil
}

// secs returns d in whole seconds, at least one.
func secs(d time.Duration) uint32 { return uint32(max(d/time.Second, 1)) }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// obs is one call being observed: the call, its caller and the figures
// every detector needs, computed once.
type obs struct {
	c     *Call
	i     int32
	cs    *caller
	ms    int64  // the call's time in Unix milliseconds, never before the caller's last call
	sec   uint32 // the same as a second counter
	warm  bool
	bytes float32 // request and response bytes
	route uint64  // routeHash of the call
	net   uint64  // the call's network and host (placeOf), zero when unknown
	host  uint64
	cred  uint64 // hash of the credential ID, zero without one
	sess  *session
	// sessAt is the session's previous call (zero when new); otherAt the
	// last call of the same credential from another host.
	sessAt, otherAt uint32
}

// Observe learns from one call and raises, through the sink, the signals
// and trust changes it leads to. A call without a caller or a time is
// ignored. Calls of one caller are expected in time order; one earlier
// than the caller's last call is taken as made at that time.
func (e *Engine) Observe(c *Call) {
	e.mu.Lock()
	e.observe(c)
	e.mu.Unlock()
}

// ObserveAll is Observe for each of calls, under one lock.
func (e *Engine) ObserveAll(calls []Call) {
	e.mu.Lock()
	for i := range calls {
		e.observe(&calls[i])
	}
	e.mu.Unlock()
}

func (e *Engine) observe(c *Call) {
	if c.Caller == "" || c.Time.IsZero() {
		e.stats.Ignored++
		return
	}
	e.stats.Calls++
	ms := c.Time.UnixMilli()
	sec := secOf(ms)
	i := e.lookup(c.Caller, sec, c.CredentialType)
	cs := e.at(i)
	if sec < cs.last {
		sec = cs.last
		ms = (int64(sec) + epoch) * 1000
	}
	cs.last = sec
	if cs.calls < 1<<32-1 {
		cs.calls++
	}
	o := obs{c: c, i: i, cs: cs, ms: ms, sec: sec, warm: e.warm(cs, sec),
		bytes: float32(max(c.ReqBytes, 0) + max(c.RespBytes, 0)), route: routeHash(e.seed, c)}
	o.net, o.host = placeOf(e.seed, c)
	var credFP, hostFP uint32
	if c.Credential != "" {
		o.cred = hashString(e.seed^0x63726564, c.Credential)
		credFP = fp(o.cred)
	}
	if o.host != 0 {
		hostFP = fp(hashUint(e.seed, o.host))
	}
	o.sess, o.sessAt, o.otherAt = cs.sess.find(credFP, hostFP, sec)
	e.credential(&o)
	e.rateWindows(&o)
	ri := e.endpoints(&o)
	e.sequences(&o, ri)
	e.callVolume(&o, ri)
	e.sources(&o)
	e.errorBursts(&o)
	e.fanout(&o)
}
