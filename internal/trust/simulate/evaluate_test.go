package simulate

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// at returns 2026-12-08 at hh:mm UTC.
func at(hhmm string) time.Time {
	t, err := time.Parse(time.RFC3339, "2026-12-08T"+hhmm+":00Z")
	if err != nil {
		panic(err)
	}
	return t
}

// callLines returns calls in the replay format: "caller@hh:mm" each.
func callLines(calls ...string) string {
	var b strings.Builder
	for _, c := range calls {
		who, when, _ := strings.Cut(c, "@")
		fmt.Fprintf(&b, `{"ts":%q,"caller":"spiffe://t/%s","credential":"c-%s","target":"spiffe://t/x","status":200}`+"\n",
			at(when).Format(time.RFC3339), who, who)
	}
	return b.String()
}

func TestEvaluate(t *testing.T) {
	a, b := "spiffe://t/a", "spiffe://t/b"
	calls := callLines(
		"a@10:00", "b@10:10", "a@10:30", "a@10:20", // out of order: hour 10 of a is counted once
		"a@11:05", "a@11:10", "a@11:20", "b@12:10", "a@12:40", "b@13:10", "a@14:10")
	labels := []Label{
		{Scenario: ScenarioTokenReplay, Identity: a, Credential: "stolen", Start: at("11:00"), End: at("11:15")},
		{Scenario: ScenarioLowAndSlow, Identity: b, Start: at("13:00"), End: at("13:20")},
	}
	sets := []SignalSet{
		{Name: "one", Signals: []Signal{
			{Time: at("15:00"), Identity: b, Kind: "x"}, // no call of b in that hour: stray
			{Time: at("11:07"), Identity: a, Kind: "x"}, // detects a's attack
			{Time: at("10:45"), Identity: a, Kind: "x"}, // a benign hour of a: false alarm
			{Time: at("12:30"), Identity: b, Kind: "x"}, // a benign hour of b: false alarm
			{Time: at("12:31"), Identity: b, Kind: "y"}, // the same hour again
			{Time: at("13:30"), Identity: b, Kind: "x"}, // detects b's attack, in the grace
			{Time: at("11:09"), Identity: a, Kind: "z"}, // later than the first
		}},
		{Name: "none"},
		{Name: "by credential", Signals: []Signal{{Time: at("11:12"), Credential: "stolen", Kind: "source.concurrent"}}},
	}
	reports, err := Evaluate(strings.NewReader(calls), labels, sets, EvalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Benign caller-hours: a at 10, 12, 14 (11 overlaps its attack); b at
	// 10, 12 (13 overlaps its attack, with the grace).
	want := []Report{
		{
			Detector: "one", Detected: 2, MetGoal: 2, Signals: 7, Stray: 1,
			MedianTimeToDetect: 18*time.Minute + 30*time.Second, MedianSeconds: 1110, MedianRequests: 1,
			BenignCallerHours: 5, FlaggedCallerHours: 2, FalseAlarmRate: 0.4,
			Attacks: []AttackResult{
				{Label: labels[0], Detected: true, First: &sets[0].Signals[1], TimeToDetect: 7 * time.Minute, Seconds: 420,
					Requests: 1, AttackCalls: 2, MetGoal: true},
				{Label: labels[1], Detected: true, First: &sets[0].Signals[5], TimeToDetect: 30 * time.Minute, Seconds: 1800,
					Requests: 1, AttackCalls: 1, MetGoal: true},
			},
		},
		{
			Detector: "none", BenignCallerHours: 5,
			Attacks: []AttackResult{
				{Label: labels[0], Requests: 2, AttackCalls: 2},
				{Label: labels[1], Requests: 1, AttackCalls: 1},
			},
		},
		{
			Detector: "by credential", Detected: 1, MetGoal: 1, Signals: 1, BenignCallerHours: 5,
			MedianTimeToDetect: 12 * time.Minute, MedianSeconds: 720, MedianRequests: 2,
			Attacks: []AttackResult{
				{Label: labels[0], Detected: true, First: &sets[2].Signals[0], TimeToDetect: 12 * time.Minute, Seconds: 720,
					Requests: 2, AttackCalls: 2, MetGoal: true},
				{Label: labels[1], Requests: 1, AttackCalls: 1},
			},
		},
	}
	if diff := cmp.Diff(want, reports, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}

func TestEvaluateGoal(t *testing.T) {
	a := "spiffe://t/a"
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("a@11:%02d", i))
	}
	labels := []Label{{Scenario: ScenarioRateSpike, Identity: a, Start: at("11:00"), End: at("11:19")}}
	for _, tc := range []struct {
		signal string
		met    bool
	}{
		{"11:09", true},  // the 10th request
		{"11:10", false}, // the 11th, 10 minutes in
	} {
		reports, err := Evaluate(strings.NewReader(callLines(lines...)), labels,
			[]SignalSet{{Signals: []Signal{{Time: at(tc.signal), Identity: a, Kind: "rate.spike"}}}}, EvalConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if got := reports[0].Attacks[0].MetGoal; got != tc.met {
			t.Errorf("signal at %s: MetGoal %v, want %v (requests %d)", tc.signal, got, tc.met, reports[0].Attacks[0].Requests)
		}
	}
}

func TestEvaluateMalformed(t *testing.T) {
	_, err := Evaluate(strings.NewReader(callLines("a@10:00")+"{\n"), nil, nil, EvalConfig{})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v, want one about line 2", err)
	}
}

func TestLabelsAndSignalsRoundTrip(t *testing.T) {
	signals := []Signal{{Time: at("10:00"), Identity: "spiffe://t/a", Credential: "c", Kind: "rate.limit", Severity: "medium",
		Evidence: map[string]any{"expected": "at most 5", "seen": "6"}}}
	var buf bytes.Buffer
	if err := WriteSignals(&buf, signals); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSignals(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(signals, got); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"signal without kind", `{"ts":"2026-12-08T10:00:00Z","identity":"a"}`, "signals line 1: want ts and kind"},
		{"label backwards", `{"scenario":"x","identity":"a","start":"2026-12-08T10:00:00Z","end":"2026-12-08T09:00:00Z"}`, "labels line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(tc.name, "signal") {
				_, err = ReadSignals(strings.NewReader(tc.in))
			} else {
				_, err = ReadLabels(strings.NewReader(tc.in))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
