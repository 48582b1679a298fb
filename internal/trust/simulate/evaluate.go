package simulate

import (
	"errors"
	"io"
	"math"
	"slices"
	"time"
)

// EvalConfig tunes [Evaluate]. The zero value is the default.
type EvalConfig struct {
	// Grace is how long after an attack's last call a signal still counts
	// as detecting it (default 15 minutes).
	Grace time.Duration
}

// SignalSet is one detector's output, to be scored.
type SignalSet struct {
	Name    string
	Signals []Signal
}

// Report is how one detector did on one run of traffic.
type Report struct {
	Detector string         `json:"detector"`
	Attacks  []AttackResult `json:"attacks"`
	// Detected counts the attacks detected; MetGoal those detected within
	// the goal (see [AttackResult.MetGoal]).
	Detected int `json:"detected"`
	MetGoal  int `json:"met_goal"`
	// Medians over the detected attacks.
	MedianTimeToDetect time.Duration `json:"-"`
	MedianSeconds      float64       `json:"median_time_to_detect_s"`
	MedianRequests     float64       `json:"median_requests_to_detect"`
	// BenignCallerHours counts the (caller, hour) pairs with calls, less
	// those that overlap an attack on that caller (with the grace);
	// FlaggedCallerHours those with a signal about the caller;
	// FalseAlarmRate is the second over the first.
	BenignCallerHours  int     `json:"benign_caller_hours"`
	FlaggedCallerHours int     `json:"flagged_caller_hours"`
	FalseAlarmRate     float64 `json:"false_alarm_rate"`
	// Signals counts the detector's signals; Stray those that fall in no
	// hour with calls of their identity and in no attack window (an
	// identity spelled differently from the callers, a late signal).
	Signals int `json:"signals"`
	Stray   int `json:"stray_signals"`
}

// AttackResult is how one detector did on one labelled attack.
type AttackResult struct {
	Label Label `json:"label"`
	// Detected is true if a signal about the label's identity (or its
	// credential) falls between the label's start and its end plus the
	// grace; First is the first such signal.
	Detected bool    `json:"detected"`
	First    *Signal `json:"first_signal,omitempty"`
	// TimeToDetect is First's time less the label's start.
	TimeToDetect time.Duration `json:"-"`
	Seconds      float64       `json:"time_to_detect_s"`
	// Requests counts the identity's calls from the label's start to the
	// first signal (all its calls, the attack's and its normal ones); for
	// an attack not detected, to the label's end.
	Requests int `json:"requests_to_detect"`
	// AttackCalls counts the identity's calls from the label's start to
	// its end.
	AttackCalls int `json:"calls_in_window"`
	// MetGoal is true if detected within 10 requests or 5 seconds of the
	// start; for low-and-slow scraping, within its first hour.
	MetGoal bool `json:"met_goal"`
}

// Goals of issue #14, which AttackResult.MetGoal checks.
const (
	GoalRequests   = 10
	GoalTime       = 5 * time.Second
	GoalLowAndSlow = time.Hour
)

// Evaluate reads calls (the replay input format) once, streaming, and
// scores each set of signals against the labels. Its memory grows with
// the callers, the labels and the signals, not with the calls. Calls may
// be a little out of order (up to four distinct hours per caller). It
// returns one report per set, in order, or an error wrapping [ErrFormat]
// for malformed calls, or the reader's error.
func Evaluate(calls io.Reader, labels []Label, sets []SignalSet, cfg EvalConfig) ([]Report, error) {
	if cfg.Grace == 0 {
		cfg.Grace = 15 * time.Minute
	}
	ev := newEvaluation(labels, sets, cfg)
	cr := NewCallReader(calls)
	var c Call
	for {
		err := cr.Next(&c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		ev.observe(&c)
	}
	return ev.reports(), nil
}

// hourKey is one caller-hour.
type hourKey struct {
	identity string
	hour     int64
}

// evaluation is the state of an Evaluate pass.
type evaluation struct {
	labels  []Label
	byID    map[string][]int // label indices by identity
	sets    []setState
	cfg     EvalConfig
	callers map[string]*callerHours
	benign  int
	window  []int // calls of each label's identity in its window
}

// setState is what is known of one signal set.
type setState struct {
	name     string
	signals  int
	flagged  map[hourKey]bool // true once matched to a caller-hour with calls
	first    []*Signal        // by label
	requests []int            // by label
	hits     int
}

// callerHours remembers the last distinct hours a caller had calls in.
type callerHours struct {
	recent [4]int64
	n      int
}

// seen records hour h and reports whether it was recorded already.
func (ch *callerHours) seen(h int64) bool {
	for i := range min(ch.n, len(ch.recent)) {
		if ch.recent[i] == h {
			return true
		}
	}
	ch.recent[ch.n%len(ch.recent)] = h
	ch.n++
	return false
}

func newEvaluation(labels []Label, sets []SignalSet, cfg EvalConfig) *evaluation {
	ev := &evaluation{labels: labels, byID: map[string][]int{}, cfg: cfg, callers: map[string]*callerHours{},
		window: make([]int, len(labels))}
	for i, l := range labels {
		ev.byID[l.Identity] = append(ev.byID[l.Identity], i)
	}
	for _, set := range sets {
		st := setState{name: set.Name, signals: len(set.Signals), flagged: map[hourKey]bool{},
			first: make([]*Signal, len(labels)), requests: make([]int, len(labels))}
		sorted := slices.Clone(set.Signals)
		slices.SortStableFunc(sorted, func(a, b Signal) int { return a.Time.Compare(b.Time) })
		for i := range sorted {
			s := &sorted[i]
			if s.Identity != "" {
				st.flagged[hourKey{s.Identity, hourOf(s.Time)}] = false
			}
			for li, l := range labels {
				match := s.Identity == l.Identity || l.Credential != "" && s.Credential == l.Credential
				if match && st.first[li] == nil && !s.Time.Before(l.Start) && !s.Time.After(l.End.Add(cfg.Grace)) {
					st.first[li] = s
				}
			}
		}
		ev.sets = append(ev.sets, st)
	}
	return ev
}

// hourOf returns the hour t falls in, counted from the Unix epoch.
func hourOf(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 3600)) }

// observe counts one call.
func (ev *evaluation) observe(c *Call) {
	if c.Caller != "" {
		ch := ev.callers[c.Caller]
		if ch == nil {
			ch = &callerHours{}
			ev.callers[c.Caller] = ch
		}
		h := hourOf(c.Time)
		if !ch.seen(h) && ev.benignHour(c.Caller, h) {
			ev.benign++
			k := hourKey{c.Caller, h}
			for i := range ev.sets {
				st := &ev.sets[i]
				if hit, ok := st.flagged[k]; ok && !hit {
					st.flagged[k] = true
					st.hits++
				}
			}
		}
	}
	for _, li := range ev.byID[c.Caller] {
		l := &ev.labels[li]
		if c.Time.Before(l.Start) {
			continue
		}
		if !c.Time.After(l.End) {
			ev.window[li]++
		}
		for i := range ev.sets {
			st := &ev.sets[i]
			end := l.End
			if f := st.first[li]; f != nil {
				end = f.Time
			}
			if !c.Time.After(end) {
				st.requests[li]++
			}
		}
	}
}

// benignHour reports whether hour h of identity overlaps none of its
// attacks (with the grace after each).
func (ev *evaluation) benignHour(identity string, h int64) bool {
	from := time.Unix(h*3600, 0)
	to := from.Add(time.Hour)
	for _, li := range ev.byID[identity] {
		l := &ev.labels[li]
		if from.Before(l.End.Add(ev.cfg.Grace)) && to.After(l.Start) {
			return false
		}
	}
	return true
}

// reports turns the counts into reports.
func (ev *evaluation) reports() []Report {
	out := make([]Report, 0, len(ev.sets))
	for si := range ev.sets {
		st := &ev.sets[si]
		rep := Report{Detector: st.name, Signals: st.signals, BenignCallerHours: ev.benign, FlaggedCallerHours: st.hits}
		if ev.benign > 0 {
			rep.FalseAlarmRate = float64(st.hits) / float64(ev.benign)
		}
		var times, reqs []float64
		for li, l := range ev.labels {
			ar := AttackResult{Label: l, Requests: st.requests[li], AttackCalls: ev.window[li]}
			if f := st.first[li]; f != nil {
				ar.Detected, ar.First = true, f
				ar.TimeToDetect = f.Time.Sub(l.Start)
				ar.Seconds = ar.TimeToDetect.Seconds()
				if l.Scenario == ScenarioLowAndSlow {
					ar.MetGoal = ar.TimeToDetect <= GoalLowAndSlow
				} else {
					ar.MetGoal = ar.Requests <= GoalRequests || ar.TimeToDetect <= GoalTime
				}
				times = append(times, float64(ar.TimeToDetect))
				reqs = append(reqs, float64(ar.Requests))
				rep.Detected++
				if ar.MetGoal {
					rep.MetGoal++
				}
			}
			rep.Attacks = append(rep.Attacks, ar)
		}
		rep.MedianTimeToDetect = time.Duration(median(times))
		rep.MedianSeconds = rep.MedianTimeToDetect.Seconds()
		rep.MedianRequests = median(reqs)
		for k, hit := range st.flagged {
			if !hit && ev.benignHour(k.identity, k.hour) {
				rep.Stray++
			}
		}
		out = append(out, rep)
	}
	return out
}

// median returns the median of xs (the mean of the middle two for an
// even count), or zero for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
