package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// gateStore holds commits until told to go on, and can make the next
// commit panic.
type gateStore struct {
	*store.Store
	entered chan struct{} // receives when a commit starts
	gate    chan struct{} // a commit waits for a value
	mu      sync.Mutex
	panics  int // number of coming commits that panic
}

func (s *gateStore) ExtendLedger(ctx context.Context, build func(store.LedgerState) (store.LedgerAppend, error)) error {
	s.mu.Lock()
	panics := s.panics > 0
	if panics {
		s.panics--
	}
	s.mu.Unlock()
	if panics {
		panic("store exploded")
	}
	if s.entered != nil {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.Store.ExtendLedger(ctx, build)
}

// TestRecordCancelledWhileQueued cancels a Record waiting behind a
// commit: it returns the context's error and its event is not recorded.
func TestRecordCancelledWhileQueued(t *testing.T) {
	s := &gateStore{Store: openStore(t, sqliteURL(t)), entered: make(chan struct{}), gate: make(chan struct{})}
	l := newLedger(t, s, newSigner(t), nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		if i, err := l.Record(t.Context(), testEvent(0)); err != nil || i != 0 {
			t.Errorf("leader Record = %d, %v; want 0", i, err)
		}
	})
	<-s.entered // the leader's commit is in the store
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	wg.Go(func() {
		_, err := l.Record(ctx, testEvent(1))
		errc <- err
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Record error = %v, want context.Canceled", err)
	}
	s.gate <- struct{}{}
	wg.Wait()
	s.entered = nil
	if i := mustRecord(t, l, testEvent(2)); i != 1 {
		t.Errorf("next Record got index %d, want 1: the cancelled event was recorded", i)
	}
}

// TestRecordSurvivesPanic has the store panic in a commit: the panic
// reaches the leading caller, and the ledger keeps working.
func TestRecordSurvivesPanic(t *testing.T) {
	s := &gateStore{Store: openStore(t, sqliteURL(t)), panics: 1}
	signer := newSigner(t)
	l := newLedger(t, s, signer, nil)
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Error("Record did not panic")
			}
		}()
		l.Record(t.Context(), testEvent(0))
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { mustRecord(t, l, testEvent(i)) })
	}
	wg.Wait()
	cp := mustPublish(t, l)
	if cp.Size != 8 {
		t.Errorf("checkpoint size %d, want 8", cp.Size)
	}
	if rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()}); err != nil {
		t.Errorf("VerifyLog: %v (%+v)", err, rep)
	}
}

// failStore fails every commit while fail is set.
type failStore struct {
	*store.Store
	fail atomic.Bool
}

func (s *failStore) ExtendLedger(ctx context.Context, build func(store.LedgerState) (store.LedgerAppend, error)) error {
	if s.fail.Load() {
		return errors.New("disk on fire")
	}
	return s.Store.ExtendLedger(ctx, build)
}

// TestRecordAll: a group's events get consecutive indexes even among
// concurrent Records; a failed commit records none of them, so a retry
// records each once; an invalid event fails the group before anything is
// queued; a group larger than a batch is committed alone.
func TestRecordAll(t *testing.T) {
	s := &failStore{Store: openStore(t, sqliteURL(t))}
	signer := newSigner(t)
	l := newLedger(t, s, signer, nil)
	group := func(name string, n int) []audit.Event {
		evs := make([]audit.Event, n)
		for i := range evs {
			evs[i] = testEvent(i)
			evs[i].Target = name
		}
		return evs
	}

	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			if _, err := l.RecordAll(t.Context(), group(fmt.Sprint("group-", g), 50)); err != nil {
				t.Errorf("RecordAll: %v", err)
			}
		})
	}
	for i := range 64 {
		wg.Go(func() { mustRecord(t, l, testEvent(i)) })
	}
	wg.Wait()

	s.fail.Store(true)
	if _, err := l.RecordAll(t.Context(), group("retried", 10)); err == nil {
		t.Fatal("RecordAll succeeded on a failing store")
	}
	s.fail.Store(false)
	first, err := l.RecordAll(t.Context(), group("retried", 10))
	if err != nil || first != 4*50+64 {
		t.Fatalf("retried RecordAll = %d, %v; want index %d", first, err, 4*50+64)
	}
	bad := group("invalid", 3)
	bad[2].Action = ""
	if _, err := l.RecordAll(t.Context(), bad); err == nil {
		t.Error("RecordAll accepted a group with an invalid event")
	}
	if _, err := l.RecordAll(t.Context(), group("huge", 5000)); err != nil {
		t.Fatalf("RecordAll of 5,000 events: %v", err)
	}

	var all []ledger.IndexedEvent
	for after := int64(-1); ; {
		page, err := l.Query(t.Context(), store.EventFilter{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Index
	}
	if want := 4*50 + 64 + 10 + 5000; len(all) != want {
		t.Fatalf("%d events in the log, want %d", len(all), want)
	}
	runs := map[string][]int64{}
	for _, ev := range all {
		runs[ev.Event.Target] = append(runs[ev.Event.Target], ev.Index)
	}
	for name, idx := range runs {
		if !strings.HasPrefix(name, "group-") && name != "retried" && name != "huge" {
			continue
		}
		for i := 1; i < len(idx); i++ {
			if idx[i] != idx[0]+int64(i) {
				t.Errorf("%s: indexes %d..., not consecutive at %d", name, idx[0], idx[i])
				break
			}
		}
	}
	if len(runs["invalid"]) != 0 || len(runs["retried"]) != 10 {
		t.Errorf("invalid group recorded %d, retried group %d times (want 0 and 10)", len(runs["invalid"]), len(runs["retried"]))
	}
	mustPublish(t, l)
	if rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()}); err != nil {
		t.Errorf("VerifyLog: %v (%+v)", err, rep)
	}
}

// TestRecordAllCancelledWhileQueued: a group cancelled while it waits
// behind a commit leaves the queue whole; none of it is recorded.
func TestRecordAllCancelledWhileQueued(t *testing.T) {
	s := &gateStore{Store: openStore(t, sqliteURL(t)), entered: make(chan struct{}), gate: make(chan struct{})}
	l := newLedger(t, s, newSigner(t), nil)
	var wg sync.WaitGroup
	wg.Go(func() { mustRecord(t, l, testEvent(0)) })
	<-s.entered
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	wg.Go(func() {
		_, err := l.RecordAll(ctx, []audit.Event{testEvent(1), testEvent(2), testEvent(3)})
		errc <- err
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled RecordAll error = %v, want context.Canceled", err)
	}
	s.gate <- struct{}{}
	wg.Wait()
	s.entered = nil
	if i := mustRecord(t, l, testEvent(4)); i != 1 {
		t.Errorf("next Record got index %d, want 1: the cancelled group was recorded", i)
	}
}
