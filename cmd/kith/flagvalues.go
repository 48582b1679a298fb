package main

import (
	"errors"
	"flag"
	"strconv"
	"strings"
	"time"
)

// durationValue is a duration flag that takes days as well as Go's units:
// 90s, 15m, 1h30m, 7d, 1d12h.
type durationValue time.Duration

// durationVar registers a duration flag on fs that stores into p, whose
// default is value. usage should hold the word `duration` in backquotes,
// so that the help shows "-name duration".
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// errDuration is what a duration flag says of a value it cannot read.
var errDuration = errors.New("want a duration such as 90s, 15m, 1h or 7d")

// String formats the duration the way Set reads it: 24h as 1d, 1h as 1h
// rather than 1h0m0s.
func (d *durationValue) String() string {
	if d == nil {
		return "0s"
	}
	v := time.Duration(*d)
	day := 24 * time.Hour
	if v >= day && v%day == 0 {
		return strconv.FormatInt(int64(v/day), 10) + "d"
	}
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Set reads a Go duration, optionally preceded by a number of days.
func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

// parseDuration reads "[Nd][Go duration]", such as 90d, 1d12h or 15m.
func parseDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, errDuration
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
		if rest == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(rest)
	if err != nil || (days > 0 && v < 0) {
		return 0, errDuration
	}
	return days + v, nil
}
