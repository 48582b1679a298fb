package main

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"1d", 24 * time.Hour, true},
		{"90d", 90 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"-5m", -5 * time.Minute, true},
		{"d", 0, false},
		{"1.5d", 0, false},
		{"1d-1h", 0, false},
		{"soon", 0, false},
		{"1dd", 0, false},
		{"", 0, false},
	} {
		got, err := parseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "0s"}, {time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {5 * time.Minute, "5m"}, {48 * time.Hour, "2d"}, {25 * time.Hour, "25h"}, {1500 * time.Millisecond, "1.5s"}} {
		v := durationValue(tc.d)
		if got := v.String(); got != tc.want {
			t.Errorf("String(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := parseDuration(tc.want); err != nil || back != tc.d {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.want, back, err, tc.d)
		}
	}
}
