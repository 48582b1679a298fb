package authn

import (
	"sync"
	"time"
)

// maxReplayKeys bounds the identifiers a memoryReplay remembers.
const maxReplayKeys = 1 << 20

// memoryReplay is the [ReplayStore] of a [TokenVerifier] given none: a
// map in the process's memory. When full it forgets expired identifiers
// and, if none has expired, refuses new ones (reports them as seen) rather
// than letting a replay through.
type memoryReplay struct {
	max int

	mu   sync.Mutex
	seen map[string]time.Time // until their expiry
}

func newMemoryReplay(max int) *memoryReplay {
	return &memoryReplay{max: max, seen: make(map[string]time.Time)}
}

// FirstUse implements [ReplayStore]; it never returns an error.
func (m *memoryReplay) FirstUse(key string, expires, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(m.seen) >= m.max {
		for k, exp := range m.seen {
			if !now.Before(exp) {
				delete(m.seen, k)
			}
		}
		if len(m.seen) >= m.max {
			return false, nil
		}
	}
	m.seen[key] = expires
	return true, nil
}
