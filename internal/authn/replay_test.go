package authn

import (
	"testing"
	"time"
)

// TestMemoryReplay checks that a full store forgets expired identifiers
// and otherwise refuses new ones rather than letting a replay through.
func TestMemoryReplay(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	m := newMemoryReplay(2)
	use := func(key string, expires, at time.Time, want bool) {
		t.Helper()
		if got, err := m.FirstUse(key, expires, at); got != want || err != nil {
			t.Fatalf("FirstUse(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	use("a", now.Add(time.Minute), now, true)
	use("a", now.Add(time.Minute), now, false)
	use("b", now.Add(2*time.Minute), now, true)
	use("c", now.Add(time.Minute), now, false)                     // full, nothing expired
	use("c", now.Add(2*time.Minute), now.Add(time.Minute), true)   // a expired and was forgotten
	use("a", now.Add(2*time.Minute), now.Add(time.Minute), false)  // full again
	use("b", now.Add(3*time.Minute), now.Add(3*time.Minute), true) // expired: seen again is a first use
}
