package federation

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// memStore is an in-memory Store.
type memStore struct {
	mu      sync.Mutex
	recs    map[string]store.Federation
	failPut error // returned by PutFederation when set
}

func newMemStore() *memStore { return &memStore{recs: map[string]store.Federation{}} }

func (s *memStore) PutFederation(_ context.Context, f store.Federation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPut != nil {
		return s.failPut
	}
	if cur, ok := s.recs[f.TrustDomain]; ok {
		f.CreatedAt = cur.CreatedAt
	}
	s.recs[f.TrustDomain] = f
	return nil
}

func (s *memStore) GetFederation(_ context.Context, td string) (store.Federation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.recs[td]
	if !ok {
		return store.Federation{}, fmt.Errorf("memstore: get %q: %w", td, store.ErrNotFound)
	}
	return f, nil
}

func (s *memStore) ListFederations(context.Context) ([]store.Federation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Federation
	for _, f := range s.recs {
		out = append(out, f)
	}
	return out, nil
}

func (s *memStore) DeleteFederation(_ context.Context, td string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[td]; !ok {
		return fmt.Errorf("memstore: delete %q: %w", td, store.ErrNotFound)
	}
	delete(s.recs, td)
	return nil
}

func (s *memStore) get(t testing.TB, td string) (store.Federation, bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.recs[td]
	return f, ok
}

func (s *memStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// memAuditor records events and announces each on a channel.
type memAuditor struct {
	mu     sync.Mutex
	events []audit.Event
	fail   error
	ch     chan audit.Event
}

func newMemAuditor() *memAuditor { return &memAuditor{ch: make(chan audit.Event, 100)} }

func (a *memAuditor) Record(_ context.Context, ev audit.Event) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return 0, a.fail
	}
	a.events = append(a.events, ev)
	select {
	case a.ch <- ev:
	default:
	}
	return int64(len(a.events) - 1), nil
}

func (a *memAuditor) setFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// types returns the types of the events recorded so far.
func (a *memAuditor) types() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, ev := range a.events {
		out = append(out, ev.Type)
	}
	return out
}

// last returns the last event recorded, failing the test if there is none.
func (a *memAuditor) last(t testing.TB) audit.Event {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		t.Fatal("no audit event recorded")
	}
	return a.events[len(a.events)-1]
}

// wait returns the next event of type typ announced, skipping others, or
// fails the test after a few seconds.
func (a *memAuditor) wait(t testing.TB, typ string) audit.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-a.ch:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 5s; recorded: %v", typ, a.types())
			return audit.Event{}
		}
	}
}

// fakeClock is a clock that moves only when told, or, after runFrom, in
// real time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	start time.Time // real time of runFrom; zero while stopped
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.start.IsZero() {
		return c.now.Add(time.Since(c.start))
	}
	return c.now
}

// runFrom sets the clock to t and lets it run in real time from then on.
func (c *fakeClock) runFrom(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.start = t, time.Now()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
