package simulate

import (
	"bytes"
	"testing"
	"time"
)

func TestBaseline(t *testing.T) {
	b, err := NewBaseline(BaselineConfig{Learn: time.Hour, Headroom: 2, Floor: 3, CoolDown: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 := at("00:00")
	var signals []Signal
	call := func(who string, t time.Time) {
		if s, ok := b.Observe(&Call{Time: t, Caller: who, Credential: "c"}); ok {
			signals = append(signals, s)
		}
	}
	// An hour of one call a minute: the limit is max(3, 2×1) = 3.
	for i := range 61 {
		call("x", t0.Add(time.Duration(i)*time.Minute))
		call("y", t0.Add(time.Duration(i)*time.Minute))
	}
	burst := func(who string, start time.Time, n int) {
		for i := range n {
			call(who, start.Add(time.Duration(i)*time.Second))
		}
	}
	burst("x", at("02:00"), 3) // at the limit
	burst("y", at("02:00"), 3)
	if len(signals) != 0 {
		t.Fatalf("signals at the limit: %v", signals)
	}
	burst("x", at("02:01"), 6) // over it: one signal, at the 4th call
	burst("x", at("02:05"), 6) // in the cool-down: none
	burst("x", at("02:12"), 6) // after it: another
	if len(signals) != 2 {
		t.Fatalf("%d signals, want 2: %v", len(signals), signals)
	}
	if s := signals[0]; !s.Time.Equal(at("02:01").Add(3*time.Second)) || s.Identity != "x" || s.Kind != "rate.limit" || s.Credential != "c" {
		t.Errorf("first signal %+v", s)
	}
	if !signals[1].Time.Equal(at("02:12").Add(3 * time.Second)) {
		t.Errorf("second signal at %v", signals[1].Time)
	}
	if _, err := NewBaseline(BaselineConfig{Floor: -1}); err == nil {
		t.Error("NewBaseline accepts a negative floor")
	}
}

// TestBaselineOnSimulation is the comparison issue #14 asks for, on small
// runs: a fixed per-caller rate limit catches a rate spike, and not
// low-and-slow scraping, which stays within every minute's limit.
func TestBaselineOnSimulation(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		g := generateSmall(t, seed)
		signals, err := RunBaseline(bytes.NewReader(g.raw), BaselineConfig{})
		if err != nil {
			t.Fatal(err)
		}
		reports, err := Evaluate(bytes.NewReader(g.raw), g.labels, []SignalSet{{Name: "baseline", Signals: signals}}, EvalConfig{})
		if err != nil {
			t.Fatal(err)
		}
		r := reports[0]
		for _, a := range r.Attacks {
			switch a.Label.Scenario {
			case ScenarioRateSpike:
				if !a.Detected {
					t.Errorf("seed %d: the baseline misses the rate spike (%s)", seed, a.Label.Description)
				}
			case ScenarioLowAndSlow:
				if a.Detected {
					t.Errorf("seed %d: the baseline detects low-and-slow scraping (%s)", seed, a.Label.Description)
				}
			}
		}
		t.Logf("seed %d: baseline detects %d of %d, %d of %d benign caller-hours flagged",
			seed, r.Detected, len(r.Attacks), r.FlaggedCallerHours, r.BenignCallerHours)
	}
}
