package proxy

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/callrecord"
)

// batches is an Uploader that keeps what it is sent.
type batches struct {
	mu   sync.Mutex
	recs []callrecord.Record
}

func (b *batches) Upload(_ context.Context, batch []callrecord.Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recs = append(b.recs, batch...)
	return nil
}

// TestTelemetryUploadsDecidedCallsOnly checks that an outbound call's
// record, which no policy decided, stays out of the upload: the agent
// refuses a batch holding a record without a decision, which would drop
// the inbound records sent with it.
func TestTelemetryUploadsDecidedCallsOnly(t *testing.T) {
	up := &batches{}
	tel, err := NewTelemetry(TelemetryConfig{Uploader: up})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tel.Run(ctx)
	}()
	now := time.Now()
	out := callrecord.Record{Time: now, Direction: "outbound", Target: "spiffe://example.org/b", Method: "GET", Path: "/", Status: 200}
	in := callrecord.Record{Time: now, Direction: "inbound", Target: "spiffe://example.org/a", Method: "GET", Path: "/", Status: 200,
		Caller: "spiffe://example.org/c", Decision: "allow"}
	tel.Observe(t.Context(), out)
	tel.Observe(t.Context(), in)
	cancel()
	<-done // Run uploads what is queued before it returns
	if len(up.recs) != 1 || up.recs[0].Direction != "inbound" {
		t.Fatalf("uploaded %+v; want the inbound record alone", up.recs)
	}
	for _, r := range up.recs {
		if err := r.Validate(); err != nil {
			t.Errorf("uploaded an invalid record: %v", err)
		}
	}
}
