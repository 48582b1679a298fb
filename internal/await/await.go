// Package await waits in tests until a condition holds, woken by the
// change signal of what the condition reads (such as Hub.StatsChanged,
// Ledger.Changed, View.Changed or go-spiffe's X509Source.Updated) rather
// than by a timer, so that a test neither sleeps longer than it must nor
// fails on a slow machine. Poll is the exception, for what signals
// nothing; Buffer makes a part's output such a signal. It is only for
// tests and must not be imported by production code.
package await

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Signal waits until cond holds and reports true, or reports false once
// timeout has passed. It checks cond at once and again each time the
// channel that changed returns is ready (closed, or sent on). It calls
// changed before each check, so that a change between a check and the
// wait is not missed. cond must not itself cause a change that changed
// signals, or the wait spins.
func Signal(timeout time.Duration, changed func() <-chan struct{}, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		ch := changed()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// Until is [Signal] that fails tb, saying what it waited for, if cond
// does not hold within timeout.
func Until(tb testing.TB, what string, timeout time.Duration, changed func() <-chan struct{}, cond func() bool) {
	tb.Helper()
	if !Signal(timeout, changed, cond) {
		tb.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// pollEvery is how often Poll checks its condition.
const pollEvery = 10 * time.Millisecond

// Poll checks cond every 10ms until it holds (true) or timeout passes
// (false). It is only for what signals nothing, such as goroutines of
// libraries exiting after a close, or the kernel freeing a port; whatever
// has a change signal waits with [Signal] or [Until].
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
	return true
}

// NoLeaks fails tb if goroutines started during the test outlive it by
// more than 5s. Call it first, so that its cleanup runs after every
// other. Goroutines signal nothing when they end (those of HTTP and gRPC
// connections end some time after the close), so it polls.
func NoLeaks(tb testing.TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		if !Poll(5*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
			buf := make([]byte, 1<<20)
			tb.Errorf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// Buffer collects the output of a part that a test reads while the part
// runs, and signals each write: a test waits with [Until] and
// Buffer.Wrote for the output to show something. It is safe for
// concurrent use; the zero value is empty and ready.
type Buffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes chan struct{} // closed at the next write; nil while no one waits
}

// Write appends p and wakes the callers of Wrote. It never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writes != nil {
		close(b.writes)
		b.writes = nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Wrote returns a channel closed at the next write.
func (b *Buffer) Wrote() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writes == nil {
		b.writes = make(chan struct{})
	}
	return b.writes
}
