package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"

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
