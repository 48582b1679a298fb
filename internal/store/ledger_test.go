package store_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/kith-dev/kith/internal/store"
)

// BenchmarkAppendLedger measures AppendLedger of batches of events of a
// realistic size (a 500-byte body), one transaction (and one fsync) per
// batch; it reports events/s.
func BenchmarkAppendLedger(b *testing.B) {
	for _, be := range backends {
		for _, batch := range []int{1, 64, 1024} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, batch), func(b *testing.B) {
				s := open(b, be.url(b), nil)
				body := bytes.Repeat([]byte("x"), 500)
				leaf := sha256.Sum256(body)
				var size int64
				for b.Loop() {
					a := store.LedgerAppend{PrevSize: size, Next: store.LedgerState{Size: size + int64(batch), Root: leaf[:]}}
					for i := range batch {
						a.Events = append(a.Events, store.Event{Index: size + int64(i), Type: "call.decided", Outcome: "success",
							Actor: "spiffe://example.org/ns/billing/sa/invoicer", Target: "spiffe://example.org/ns/payments/sa/ledger-api",
							Body: body, LeafHash: leaf[:]})
					}
					if err := s.AppendLedger(b.Context(), a); err != nil {
						b.Fatal(err)
					}
					size += int64(batch)
				}
				b.ReportMetric(float64(size)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
