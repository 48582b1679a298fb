package federation

import (
	"testing"
	"time"
)

func TestRefreshInterval(t *testing.T) {
	tests := []struct {
		name string
		hint time.Duration // zero: no hint
		want time.Duration
	}{
		{"no hint", 0, defaultRefresh},
		{"in bounds", 2 * time.Minute, 2 * time.Minute},
		{"too short", time.Second, minRefresh},
		{"too long", 24 * time.Hour, maxRefresh},
		{"negative", -time.Minute, defaultRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(foreignTD, 1)
			if tt.hint != 0 {
				b.SetRefreshHint(tt.hint)
			}
			if got := refreshInterval(b); got != tt.want {
				t.Errorf("refreshInterval = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		failures int
		full     time.Duration
	}{
		{0, backoffBase},
		{1, backoffBase},
		{2, 2 * backoffBase},
		{3, 4 * backoffBase},
		{7, backoffMax}, // 320s capped at 300s
		{64, backoffMax},
		{1 << 30, backoffMax},
	}
	for _, tt := range tests {
		t.Run(itoa(tt.failures), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := backoff(tt.failures)
				if d < tt.full/2 || d > tt.full {
					t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.failures, d, tt.full/2, tt.full)
				}
				seen[d] = true
			}
			if len(seen) < 2 {
				t.Errorf("backoff(%d) has no jitter", tt.failures)
			}
		})
	}
}
