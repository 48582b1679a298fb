package simulate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// small is a run that is quick to generate and still has every feature:
// three days, so attacks come after one day of warm-up.
func small(seed uint64) Config {
	return Config{Seed: seed, Days: 3, Services: 14, Rate: 0.25}
}

// generated is one run held in memory.
type generated struct {
	cfg     Config
	raw     []byte
	calls   []Call
	labels  []Label
	summary *Summary
}

// generate runs cfg and parses what it wrote.
func generate(t testing.TB, cfg Config) *generated {
	t.Helper()
	var calls, labels bytes.Buffer
	cfg.Calls, cfg.Labels = &calls, &labels
	sum, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &generated{cfg: cfg, raw: calls.Bytes(), summary: sum}
	cr := NewCallReader(bytes.NewReader(g.raw))
	for {
		var c Call
		err := cr.Next(&c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		g.calls = append(g.calls, c)
	}
	if g.labels, err = ReadLabels(&labels); err != nil {
		t.Fatal(err)
	}
	if int64(len(g.calls)) != sum.Calls {
		t.Fatalf("summary counts %d calls, the output has %d", sum.Calls, len(g.calls))
	}
	return g
}

// smallRuns holds the runs of small(seed) that tests share: they only
// read them.
var smallRuns = struct {
	sync.Mutex
	m map[uint64]*generated
}{m: map[uint64]*generated{}}

// generateSmall returns the run of small(seed), generated once per test
// binary.
func generateSmall(t testing.TB, seed uint64) *generated {
	t.Helper()
	smallRuns.Lock()
	defer smallRuns.Unlock()
	if g := smallRuns.m[seed]; g != nil {
		return g
	}
	g := generate(t, small(seed))
	smallRuns.m[seed] = g
	return g
}

// label returns the label of scenario sc.
func (g *generated) label(t testing.TB, sc string) Label {
	t.Helper()
	for _, l := range g.labels {
		if l.Scenario == sc {
			return l
		}
	}
	t.Fatalf("no label for %s", sc)
	return Label{}
}

// of returns the calls of identity in [from, to).
func (g *generated) of(identity string, from, to time.Time) []Call {
	var out []Call
	for _, c := range g.calls {
		if c.Caller == identity && !c.Time.Before(from) && c.Time.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

func TestRunIsDeterministic(t *testing.T) {
	a := generateSmall(t, 7)
	b := generate(t, small(7))
	if !bytes.Equal(a.raw, b.raw) {
		t.Error("the same config wrote different calls")
	}
	if !slices.EqualFunc(a.labels, b.labels, func(x, y Label) bool { return x == y }) {
		t.Error("the same config wrote different labels")
	}
	c := generateSmall(t, 8)
	if bytes.Equal(a.raw[:10000], c.raw[:10000]) {
		t.Error("seeds 7 and 8 wrote the same calls")
	}
}

func TestCallsAreOrderedAndValid(t *testing.T) {
	g := generateSmall(t, 1)
	start := g.summary.Start
	for i, c := range g.calls {
		if i > 0 && c.Time.Before(g.calls[i-1].Time) {
			t.Fatalf("call %d at %v comes after one at %v", i, c.Time, g.calls[i-1].Time)
		}
		if c.Time.Before(start) || !c.Time.Before(g.summary.End) {
			t.Fatalf("call %d at %v outside the run", i, c.Time)
		}
		if !strings.HasPrefix(c.Caller, "spiffe://example.org/") || !strings.HasPrefix(c.Target, "spiffe://example.org/") ||
			c.Credential == "" || c.Method == "" || c.Path == "" || c.Status < 200 || c.Decision == "" {
			t.Fatalf("call %d is incomplete: %+v", i, c)
		}
		if _, err := netip.ParseAddr(c.Source); err != nil {
			t.Fatalf("call %d: source %q: %v", i, c.Source, err)
		}
	}
}

func TestEveryScenarioIsInjectedAndLabelled(t *testing.T) {
	g := generateSmall(t, 1)
	if len(g.labels) != len(Scenarios()) {
		t.Fatalf("%d labels, want %d", len(g.labels), len(Scenarios()))
	}
	warm := g.summary.Start.Add(24 * time.Hour)
	ids := map[string]bool{}
	for _, l := range g.labels {
		ids[l.Identity] = true
		if l.Start.Before(warm) || !l.End.Before(g.summary.End) || l.Description == "" || l.Credential == "" {
			t.Errorf("%s: label %+v: want a window after the warm-up, a credential and a description", l.Scenario, l)
		}
		if n := len(g.of(l.Identity, l.Start, l.End.Add(time.Nanosecond))); n < 10 {
			t.Errorf("%s: %d calls of %s in the window", l.Scenario, n, l.Identity)
		}
	}
	if len(ids) < 6 {
		t.Errorf("attacks on %d identities, want most on their own", len(ids))
	}
}

// TestAttacksOnlyAdd checks that attacks add calls and change nothing
// else: the benign traffic is the same with them or without, and every
// extra call is its label's identity's, inside its window.
func TestAttacksOnlyAdd(t *testing.T) {
	cfg := small(3)
	with := generateSmall(t, 3)
	cfg.Scenarios = []string{}
	without := generate(t, cfg)
	if len(without.labels) != 0 {
		t.Fatalf("%d labels without scenarios", len(without.labels))
	}
	lines := map[string]int{}
	for _, l := range strings.SplitAfter(string(with.raw), "\n") {
		lines[l]++
	}
	for _, l := range strings.SplitAfter(string(without.raw), "\n") {
		if lines[l] == 0 {
			t.Fatalf("benign call missing once attacks are injected: %s", l)
		}
		lines[l]--
	}
	extra := 0
	for l, n := range lines {
		if n == 0 || l == "" {
			continue
		}
		extra += n
		cr := NewCallReader(strings.NewReader(l))
		var c Call
		if err := cr.Next(&c); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(with.labels, func(lb Label) bool {
			return lb.Identity == c.Caller && !c.Time.Before(lb.Start) && !c.Time.After(lb.End)
		}) {
			t.Fatalf("extra call outside every label: %s", l)
		}
	}
	if extra == 0 {
		t.Fatal("the attacks added no calls")
	}
}

// before returns what identity did in the day before t.
func (g *generated) before(identity string, t time.Time) []Call {
	return g.of(identity, g.summary.Start, t)
}

func TestScenarioShapes(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		g := generateSmall(t, seed)
		for _, l := range g.labels {
			t.Run(l.Scenario, func(t *testing.T) {
				in := g.of(l.Identity, l.Start, l.End.Add(time.Nanosecond))
				past := g.before(l.Identity, l.Start)
				if len(past) == 0 {
					t.Fatalf("seed %d: %s has no history", seed, l.Identity)
				}
				checkShape(t, l, in, past)
			})
		}
	}
}

// checkShape checks the one feature that makes each attack an attack.
func checkShape(t *testing.T, l Label, in, past []Call) {
	t.Helper()
	net24 := func(ip string) netip.Prefix { // a /24, or a /64
		a := netip.MustParseAddr(ip)
		bits := 24
		if a.Is6() {
			bits = 64
		}
		p, _ := a.Prefix(bits)
		return p
	}
	switch l.Scenario {
	case ScenarioTokenReplay:
		nets := map[netip.Prefix]bool{}
		for _, c := range past {
			nets[net24(c.Source)] = true
		}
		n := 0
		for _, c := range in {
			if c.Credential == l.Credential && !nets[net24(c.Source)] {
				n++
			}
		}
		if n < 5 {
			t.Errorf("%d calls with the stolen credential from a new /24", n)
		}
	case ScenarioEnumeration:
		errs, raw := 0, 0
		for _, c := range in {
			if c.Status == 403 || c.Status == 404 || c.Status == 405 {
				errs++
			}
			if c.Route == "" {
				raw++
			}
		}
		if errs < 20 || raw < 5 {
			t.Errorf("%d 403/404/405s, %d calls without a route template, of %d", errs, raw, len(in))
		}
	case ScenarioLowAndSlow:
		if d := l.End.Sub(l.Start); d < 5*time.Hour {
			t.Errorf("lasts %v, want hours", d)
		}
		if busiest(in) > 2*busiest(past) {
			t.Errorf("busiest minute %d in the window against %d before", busiest(in), busiest(past))
		}
	case ScenarioExfiltration:
		var before, during []float64
		for _, c := range past {
			before = append(before, float64(c.RespBytes))
		}
		for _, c := range in {
			during = append(during, float64(c.RespBytes))
		}
		if slices.Max(during) < 10*median(before) {
			t.Errorf("largest response %v against a median of %v before", slices.Max(during), median(before))
		}
	case ScenarioLateralFanout:
		known := map[string]bool{}
		for _, c := range past {
			known[c.Target] = true
		}
		fresh := map[string]bool{}
		for _, c := range in {
			if !known[c.Target] {
				fresh[c.Target] = true
			}
		}
		if len(fresh) < 3 {
			t.Errorf("%d new targets", len(fresh))
		}
	case ScenarioSequenceAbuse:
		// The loop's transition, the most frequent in the window, is at
		// least five times as frequent as before.
		count := func(calls []Call) map[[2]string]int {
			n := map[[2]string]int{}
			for i := 1; i < len(calls); i++ {
				n[[2]string{calls[i-1].Method + calls[i-1].Route, calls[i].Method + calls[i].Route}]++
			}
			return n
		}
		was, now := count(past), count(in)
		var top [2]string
		for k, n := range now {
			if k[0] != k[1] && n > now[top] {
				top = k
			}
		}
		hours := func(calls []Call) float64 { return calls[len(calls)-1].Time.Sub(calls[0].Time).Hours() + 1.0/60 }
		if rate, before := float64(now[top])/hours(in), float64(was[top])/hours(past); now[top] < 20 || rate < 5*before {
			t.Errorf("top transition %v: %d in the window (%.1f/h), %.1f/h before", top, now[top], rate, before)
		}
	case ScenarioTwoHosts:
		// The instance uses the credential in the window or just before.
		sources := map[string][]time.Time{}
		for _, c := range append(past[max(len(past)-200, 0):], in...) {
			if c.Time.Before(l.Start.Add(-10 * time.Minute)) {
				continue
			}
			if c.Credential == l.Credential {
				sources[c.Source] = append(sources[c.Source], c.Time)
			}
		}
		if len(sources) < 2 {
			t.Errorf("the credential is used from %d sources", len(sources))
		}
	case ScenarioRateSpike:
		perMin := float64(len(in)) / l.End.Sub(l.Start).Minutes()
		if perMin < 1.5*float64(busiest(past)) {
			t.Errorf("%.1f calls a minute in the window against a busiest minute of %d before", perMin, busiest(past))
		}
	}
}

// busiest returns the most calls in one minute.
func busiest(calls []Call) int {
	per := map[int64]int{}
	m := 0
	for _, c := range calls {
		k := c.Time.Unix() / 60
		per[k]++
		m = max(m, per[k])
	}
	return m
}

func TestBenignFeatures(t *testing.T) {
	g := generateSmall(t, 1)
	events := map[string][]Event{}
	for _, e := range g.summary.Events {
		events[e.Kind] = append(events[e.Kind], e)
	}
	for _, k := range []string{"deploy", "route_added", "service_started", "cron", "node_replaced", "stale_config", "legacy_client"} {
		if len(events[k]) == 0 {
			t.Errorf("no %s event", k)
		}
	}
	id := func(name string) string { return "spiffe://example.org/" + name }

	t.Run("daily cycle", func(t *testing.T) {
		perHour := make([]int, 24)
		for _, c := range g.calls {
			perHour[c.Time.Hour()]++
		}
		night, day := perHour[3]+perHour[4], perHour[12]+perHour[13]
		if float64(night) > 0.6*float64(day) {
			t.Errorf("calls per hour of day %v: nights are not quieter", perHour)
		}
	})
	t.Run("nightly export", func(t *testing.T) {
		var in, out int
		for _, c := range g.calls {
			if c.Caller == id("reporting") {
				if h := c.Time.Hour(); h == 2 || h == 3 {
					in++
				} else {
					out++
				}
			}
		}
		if in < 1000 || out != 0 {
			t.Errorf("reporting: %d calls at night, %d at other times", in, out)
		}
	})
	t.Run("deploy adds a route", func(t *testing.T) {
		e := events["route_added"][0]
		tmpl := strings.Fields(e.Detail)[1]
		var first time.Time
		for _, c := range g.calls {
			attack := slices.ContainsFunc(g.labels, func(l Label) bool {
				return l.Identity == c.Caller && !c.Time.Before(l.Start) && !c.Time.After(l.End)
			})
			if c.Route == tmpl && !attack {
				if first.IsZero() {
					first = c.Time
				}
				if c.Decision == "deny" {
					t.Errorf("%s is denied: %+v", tmpl, c)
				}
			}
		}
		if first.IsZero() || first.Before(e.Time) {
			t.Errorf("route %s added at %v, first called at %v", tmpl, e.Time, first)
		}
	})
	t.Run("new service", func(t *testing.T) {
		e := events["service_started"][0]
		var calls, called int
		for _, c := range g.calls {
			if c.Caller == id(e.Service) || c.Target == id(e.Service) {
				if c.Time.Before(e.Time) {
					t.Fatalf("%s has a call at %v, before it started at %v", e.Service, c.Time, e.Time)
				}
				if c.Caller == id(e.Service) {
					calls++
				} else if c.Caller != id("synthetic-monitor") {
					called++
				}
			}
		}
		if calls == 0 || called == 0 {
			t.Errorf("%s made %d calls and got %d", e.Service, calls, called)
		}
	})
	t.Run("credentials rotate", func(t *testing.T) {
		creds := map[string]map[string]bool{}
		for _, c := range g.calls {
			if creds[c.Caller] == nil {
				creds[c.Caller] = map[string]bool{}
			}
			creds[c.Caller][c.Credential] = true
		}
		for _, c := range []string{"synthetic-monitor", "api-gateway"} {
			if n := len(creds[id(c)]); n < 3*24 {
				t.Errorf("%s used %d credentials in 3 days", c, n)
			}
		}
	})
	t.Run("noise", func(t *testing.T) {
		status := map[int]int{}
		for _, c := range g.calls {
			status[c.Status/100*100]++
			if c.Status == 401 || c.Status == 404 || c.Status == 403 {
				status[c.Status]++
			}
		}
		ok := float64(status[200]) / float64(len(g.calls))
		if ok < 0.95 || ok > 0.999 || status[401] == 0 || status[404] == 0 || status[403] == 0 || status[500] == 0 {
			t.Errorf("status mix %v of %d calls", status, len(g.calls))
		}
	})
	t.Run("heavy tails", func(t *testing.T) {
		var sizes []float64
		for _, c := range g.calls {
			if c.Status == 200 && c.Method == "GET" {
				sizes = append(sizes, float64(c.RespBytes))
			}
		}
		slices.Sort(sizes)
		p50, p999 := sizes[len(sizes)/2], sizes[len(sizes)*999/1000]
		if p999 < 20*p50 {
			t.Errorf("response bytes p50 %v, p99.9 %v: no tail", p50, p999)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no writer", Config{}, "Calls is required"},
		{"few services", Config{Calls: io.Discard, Services: 5}, "Services must be"},
		{"negative rate", Config{Calls: io.Discard, Rate: -1}, "Rate must be"},
		{"warm-up too long", Config{Calls: io.Discard, Days: 2, WarmUp: 47 * time.Hour}, "WarmUp"},
		{"unknown scenario", Config{Calls: io.Discard, Scenarios: []string{"dos"}}, `unknown scenario "dos"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(t.Context(), tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrConfig with %q", err, tc.want)
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, Config{Calls: io.Discard}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
