package federation

import (
	"math/rand/v2"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// Bounds of the refresh schedule.
const (
	// minRefresh and maxRefresh clamp a bundle's spiffe_refresh_hint.
	minRefresh = 30 * time.Second
	maxRefresh = time.Hour
	// defaultRefresh applies when a bundle carries no hint.
	defaultRefresh = 5 * time.Minute
	// backoffBase is the delay after the first failed refresh; it doubles
	// with each further failure up to backoffMax.
	backoffBase = 5 * time.Second
	backoffMax  = 5 * time.Minute
)

// refreshInterval returns how long to wait before refreshing b again: its
// refresh hint clamped to [minRefresh, maxRefresh], or defaultRefresh.
func refreshInterval(b *spiffebundle.Bundle) time.Duration {
	hint, ok := b.RefreshHint()
	if !ok || hint <= 0 {
		return defaultRefresh
	}
	return min(max(hint, minRefresh), maxRefresh)
}

// backoff returns the delay before retrying after the given number of
// consecutive failures (1 or more): backoffBase doubled per failure, capped
// at backoffMax, with "equal jitter" so that it falls in [d/2, d]. The
// jitter only spreads load; it needs no cryptographic randomness.
func backoff(failures int) time.Duration {
	d := backoffMax
	if failures < 1 {
		failures = 1
	}
	if shift := failures - 1; shift < 16 {
		d = min(backoffBase<<shift, backoffMax)
	}
	half := d / 2
	return half + rand.N(half+1)
}
