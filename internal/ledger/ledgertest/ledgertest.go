// Package ledgertest provides an in-memory auditor for the tests of
// packages that record audit events. It is only for tests and must not be
// imported by production code.
package ledgertest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
)

// Events is an auditor that keeps what it records, in order. It
// implements Record, RecordTx and Adopt as *ledger.Ledger does, with
// every transaction taken to commit unless RecordTx fails. The zero
// value is ready.
type Events struct {
	mu     sync.Mutex
	events []audit.Event
	fail   error // Record's and RecordTx's error, when set
	failTx error // RecordTx's error, when set
}

// Record keeps ev, or returns the error set with Fail. It refuses an
// event whose type is not in audit.Types, so that a producer's tests fail
// when it writes an event type the vocabulary does not document.
func (e *Events) Record(_ context.Context, ev audit.Event) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return 0, e.fail
	}
	if !audit.KnownType(ev.Type) {
		return 0, fmt.Errorf("ledgertest: event type %q is not in audit.Types", ev.Type)
	}
	e.events = append(e.events, ev)
	return int64(len(e.events) - 1), nil
}

// RecordTx keeps ev as Record does, ignoring the transaction, or returns
// the error set with FailTx or Fail (making the caller's transaction
// roll back).
func (e *Events) RecordTx(ctx context.Context, _ ledger.EventAppender, ev audit.Event) error {
	e.mu.Lock()
	err := e.failTx
	e.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = e.Record(ctx, ev)
	return err
}

// Adopt does nothing: RecordTx keeps events at once.
func (e *Events) Adopt(context.Context) error { return nil }

// Fail makes Record and RecordTx fail with err from now on (nil: succeed
// again).
func (e *Events) Fail(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail = err
}

// FailTx makes RecordTx alone fail with err from now on (nil: succeed
// again), as when a change's transaction cannot take its event while
// refusals are still recorded.
func (e *Events) FailTx(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failTx = err
}

// All returns every recorded event.
func (e *Events) All() []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

// OfType returns the recorded events of type typ.
func (e *Events) OfType(typ string) []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []audit.Event
	for _, ev := range e.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// Find returns the recorded events of type typ with the given outcome.
func (e *Events) Find(typ string, outcome audit.Outcome) []audit.Event {
	var out []audit.Event
	for _, ev := range e.OfType(typ) {
		if ev.Outcome == outcome {
			out = append(out, ev)
		}
	}
	return out
}
