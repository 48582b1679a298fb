package trusthost

import (
	"context"
	"fmt"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

type ctxContext = context.Context

// fakeStore keeps blobs in memory and has no events.
type fakeStore struct {
	blobs    map[string][]byte
	versions map[string]int64
}

func (f *fakeStore) GetBlob(_ context.Context, name string) ([]byte, int64, error) {
	if b, ok := f.blobs[name]; ok {
		return b, f.versions[name], nil
	}
	return nil, 0, store.ErrNotFound
}

func (f *fakeStore) PutBlob(_ context.Context, name string, data []byte, expect int64) (int64, error) {
	if f.blobs == nil {
		f.blobs, f.versions = map[string][]byte{}, map[string]int64{}
	}
	if f.versions[name] != expect {
		return 0, fmt.Errorf("version %d: %w", expect, store.ErrConflict)
	}
	f.blobs[name] = append([]byte(nil), data...)
	f.versions[name] = expect + 1
	return expect + 1, nil
}

func (f *fakeStore) ListEvents(context.Context, store.EventFilter) ([]store.Event, error) {
	return nil, nil
}

type nopLedger struct{}

func (nopLedger) RecordAll(context.Context, []audit.Event) (int64, error) { return 0, nil }
