package simulate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// BaselineConfig tunes the naive rate limit. The zero value of each field
// is its default.
type BaselineConfig struct {
	// Window is the rate limit's fixed window (default one minute).
	Window time.Duration
	// Learn is how long, from a caller's first call, the limit watches
	// before it acts (default 24 hours).
	Learn time.Duration
	// Headroom multiplies the busiest window seen while learning into the
	// limit (default 1.5).
	Headroom float64
	// Floor is the smallest limit per window (default 5).
	Floor int
	// CoolDown is the time after a signal when the caller gets no other
	// (default 15 minutes).
	CoolDown time.Duration
}

// Baseline is the reference detector the engine is compared with: a naive
// per-caller rate limit with a fixed threshold. Each caller's limit is
// its busiest window while learning times the headroom; a window over the
// limit is a rate.limit signal. It knows nothing of time of day, routes,
// sizes, sources or credentials.
type Baseline struct {
	cfg     BaselineConfig
	callers map[string]*limitState
}

// limitState is one caller's rate limit.
type limitState struct {
	first, window, quiet int64 // unix ns: first call, window start, no signal before
	count, busiest       int
	limit                int // 0 while learning
}

// NewBaseline returns a baseline detector. It returns an error for a
// negative setting.
func NewBaseline(cfg BaselineConfig) (*Baseline, error) {
	if cfg.Window < 0 || cfg.Learn < 0 || cfg.Headroom < 0 || cfg.Floor < 0 || cfg.CoolDown < 0 {
		return nil, errors.New("simulate: negative baseline setting")
	}
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	if cfg.Learn == 0 {
		cfg.Learn = 24 * time.Hour
	}
	if cfg.Headroom == 0 {
		cfg.Headroom = 1.5
	}
	if cfg.Floor == 0 {
		cfg.Floor = 5
	}
	if cfg.CoolDown == 0 {
		cfg.CoolDown = 15 * time.Minute
	}
	return &Baseline{cfg: cfg, callers: map[string]*limitState{}}, nil
}

// Observe counts c against its caller's limit and returns a signal if it
// is the call that goes over it.
func (b *Baseline) Observe(c *Call) (Signal, bool) {
	st := b.callers[c.Caller]
	t := c.Time.UnixNano()
	win := int64(b.cfg.Window)
	if st == nil {
		st = &limitState{first: t, window: t - t%win}
		b.callers[c.Caller] = st
	}
	if w := t - t%win; w > st.window {
		st.window, st.count = w, 0
	}
	st.count++
	if st.limit == 0 {
		st.busiest = max(st.busiest, st.count)
		if t-st.first >= int64(b.cfg.Learn) {
			st.limit = max(b.cfg.Floor, int(math.Ceil(b.cfg.Headroom*float64(st.busiest))))
		}
		return Signal{}, false
	}
	if st.count != st.limit+1 || t < st.quiet {
		return Signal{}, false
	}
	st.quiet = t + int64(b.cfg.CoolDown)
	return Signal{
		Time: c.Time, Identity: c.Caller, Credential: c.Credential, Kind: "rate.limit", Severity: "medium",
		Evidence: map[string]any{
			"expected": fmt.Sprintf("at most %d calls per %v", st.limit, b.cfg.Window),
			"seen":     fmt.Sprintf("%d calls in the window from %s", st.count, time.Unix(0, st.window).UTC().Format(time.RFC3339)),
		},
	}, true
}

// RunBaseline runs a baseline of cfg over calls and returns its signals.
// It returns an error wrapping [ErrFormat] for malformed calls, or the
// reader's error.
func RunBaseline(calls io.Reader, cfg BaselineConfig) ([]Signal, error) {
	b, err := NewBaseline(cfg)
	if err != nil {
		return nil, err
	}
	var out []Signal
	cr := NewCallReader(calls)
	var c Call
	for {
		err := cr.Next(&c)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if s, ok := b.Observe(&c); ok {
			out = append(out, s)
		}
	}
}
