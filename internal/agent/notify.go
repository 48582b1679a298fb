package agent

import "sync"

// broadcaster wakes everyone waiting for the next change: wait returns a
// channel that notify closes (and replaces). It never blocks a notifier on
// a slow waiter, and a waiter that missed intermediate changes sees only
// that something changed, then recomputes the whole state.
type broadcaster struct {
	mu sync.Mutex
	ch chan struct{}
	// also, if set before the first notify, is notified after this one.
	also *broadcaster
}

func newBroadcaster() *broadcaster { return &broadcaster{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify.
func (b *broadcaster) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// notify wakes every current waiter.
func (b *broadcaster) notify() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
	if b.also != nil {
		b.also.notify()
	}
}
