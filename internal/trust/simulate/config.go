package simulate

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Config says what [Run] generates. The zero value of every field but
// Calls is a documented default.
type Config struct {
	// Calls receives the calls, one JSON object per line, in time order.
	// Required. Run buffers its writes.
	Calls io.Writer
	// Labels receives one [Label] per injected attack, one JSON object per
	// line, once the calls are written. Nil discards them.
	Labels io.Writer

	// Seed selects the world (services, routes, call graph) and everything
	// random after it. The same Config writes the same bytes.
	Seed uint64
	// Start is the simulated time of the first call (default
	// 2026-12-07T00:00:00Z, a Monday).
	Start time.Time
	// Days is the simulated length (default 7).
	Days int
	// Services is the number of services at the start; one more starts in
	// the middle of the run (default 30, at least 12).
	Services int
	// Rate scales the request-driven traffic and the batch jobs; health
	// checks and pollers keep their period (default 1: about 14,000 calls
	// per service per simulated day, some 3 million calls over 7 days with
	// 30 services).
	Rate float64
	// TrustDomain names the SPIFFE trust domain (default example.org).
	TrustDomain string
	// WarmUp is the attack-free start of the run (default 48h, or a third
	// of the run if that is shorter).
	WarmUp time.Duration
	// Scenarios lists the attacks to inject, each once (default all of
	// [Scenarios]); an empty, non-nil slice injects none.
	Scenarios []string
}

// ErrConfig is wrapped by the errors of [Run] for an invalid [Config].
var ErrConfig = errors.New("simulate: invalid config")

// Scenario names, as they appear in labels.
const (
	ScenarioTokenReplay   = "token_replay_new_network"
	ScenarioEnumeration   = "endpoint_enumeration"
	ScenarioLowAndSlow    = "low_and_slow_scraping"
	ScenarioExfiltration  = "volume_exfiltration"
	ScenarioLateralFanout = "lateral_fanout"
	ScenarioSequenceAbuse = "sequence_abuse"
	ScenarioTwoHosts      = "credential_two_hosts"
	ScenarioRateSpike     = "rate_spike"
)

// Scenarios returns the names of the attacks [Run] can inject, in the
// order it plans them.
func Scenarios() []string {
	return []string{
		ScenarioTokenReplay, ScenarioEnumeration, ScenarioLowAndSlow, ScenarioExfiltration,
		ScenarioLateralFanout, ScenarioSequenceAbuse, ScenarioTwoHosts, ScenarioRateSpike,
	}
}

// withDefaults returns cfg with its defaults filled in, or an error
// wrapping [ErrConfig].
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Calls == nil {
		return cfg, fmt.Errorf("%w: Calls is required", ErrConfig)
	}
	if cfg.Labels == nil {
		cfg.Labels = io.Discard
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Minute)
	if cfg.Days == 0 {
		cfg.Days = 7
	}
	if cfg.Services == 0 {
		cfg.Services = 30
	}
	if cfg.Rate == 0 {
		cfg.Rate = 1
	}
	if cfg.TrustDomain == "" {
		cfg.TrustDomain = "example.org"
	}
	length := time.Duration(cfg.Days) * 24 * time.Hour
	if cfg.WarmUp == 0 {
		cfg.WarmUp = min(48*time.Hour, length/3)
	}
	if cfg.Scenarios == nil {
		cfg.Scenarios = Scenarios()
	}
	switch {
	case cfg.Days < 1 || cfg.Days > 366:
		return cfg, fmt.Errorf("%w: Days must be 1 to 366, not %d", ErrConfig, cfg.Days)
	case cfg.Services < 12 || cfg.Services > 1000:
		return cfg, fmt.Errorf("%w: Services must be 12 to 1000, not %d", ErrConfig, cfg.Services)
	case !(cfg.Rate > 0 && cfg.Rate <= 1000):
		return cfg, fmt.Errorf("%w: Rate must be above 0 and at most 1000, not %g", ErrConfig, cfg.Rate)
	case cfg.WarmUp < 0 || cfg.WarmUp > length-6*time.Hour:
		return cfg, fmt.Errorf("%w: WarmUp %v leaves less than 6h of a %v run for attacks", ErrConfig, cfg.WarmUp, length)
	}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios(), s) {
			return cfg, fmt.Errorf("%w: unknown scenario %q (known: %v)", ErrConfig, s, Scenarios())
		}
	}
	return cfg, nil
}
