package simulate

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkRun measures generation: a day of 30 services at rate 1, about
// 420,000 calls, written to io.Discard.
func BenchmarkRun(b *testing.B) {
	var calls int64
	for b.Loop() {
		s, err := Run(b.Context(), Config{Calls: io.Discard, Days: 1, Services: 30, Scenarios: []string{}})
		if err != nil {
			b.Fatal(err)
		}
		calls += s.Calls
	}
	b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkEvaluate measures reading and scoring calls.
func BenchmarkEvaluate(b *testing.B) {
	g := generateSmall(b, 1)
	signals, err := RunBaseline(bytes.NewReader(g.raw), BaselineConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(g.raw)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Evaluate(bytes.NewReader(g.raw), g.labels, []SignalSet{{Signals: signals}}, EvalConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(g.calls))*float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
