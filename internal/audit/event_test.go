package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// FuzzMarshal checks that the hand-written canonical encoding of events
// is, byte for byte, what encoding/json gives, errors included: entries
// already in logs were encoded by encoding/json, and adoption re-encodes
// events.
func FuzzMarshal(f *testing.F) {
	f.Add("call.decided", "spiffe://example.org/ns/a/sa/b", "", "<script>&\"\\\u2028\x00\xff", "k", "v", int64(1234), 93, int64(1700000000123456), uint8(0xff))
	f.Add("", "", "x", "", "", "", int64(-5), -1, int64(-62135596800000000-1), uint8(0))
	f.Add("é\t\n", "id", "signal", "reason\r", "b", "a", int64(0), 0, int64(253402300800000000), uint8(0x55))
	f.Fuzz(func(t *testing.T, typ, id, signal, text, key, value string, revision int64, score int, micros int64, mask uint8) {
		on := func(bit int) bool { return mask&(1<<bit) != 0 }
		ev := audit.Event{
			Time:    time.UnixMicro(micros).UTC(),
			Type:    typ,
			Actor:   audit.Actor{Kind: text, ID: id},
			Action:  signal,
			Outcome: audit.Outcome(text),
		}
		if on(0) {
			ev.Actor.CredentialID, ev.Actor.CredentialType, ev.Actor.Owner = text, key, value
			ev.Actor.BusinessFunction, ev.Actor.RemoteAddr = id, typ
		}
		if on(1) {
			ev.Target, ev.Reason, ev.RequestID, ev.TraceID = id, text, key, value
		}
		if on(2) {
			ev.Policy = &audit.Policy{Revision: revision}
			if on(3) {
				ev.Policy.Rule = text
			}
		}
		if on(4) {
			ev.Trust = &audit.Trust{Score: score}
			if on(5) {
				ev.Trust.Signals = []string{signal, text}
			}
		}
		if on(6) {
			ev.Details = map[string]string{key: value, value: text, "": typ}
		}
		if on(7) {
			ev.Time = ev.Time.In(time.FixedZone("", int(revision%100_000)))
		}
		got, err := audit.Marshal(ev)
		want, wantErr := json.Marshal(ev)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Marshal error %v, encoding/json error %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("Marshal:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// BenchmarkMarshal measures the canonical encoding of an event of a
// realistic size, against encoding/json's encoding of the same event.
func BenchmarkMarshal(b *testing.B) {
	ev := benchEvent()
	ev.Time = time.Date(2026, 11, 28, 1, 2, 3, 456789000, time.UTC)
	b.Run("hand-written", func(b *testing.B) {
		for b.Loop() {
			if _, err := audit.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchEvent is an event of a realistic size (about 500 bytes of entry).
func benchEvent() audit.Event {
	return audit.Event{
		Type: audit.TypeCallDecided,
		Actor: audit.Actor{Kind: "workload", ID: "spiffe://example.org/ns/billing/sa/invoicer", CredentialID: "jti-0b6f2c4e",
			CredentialType: "jwt_svid", Owner: "team-billing", BusinessFunction: "invoicing"},
		Target:    "spiffe://example.org/ns/payments/sa/ledger-api",
		Action:    "call",
		Outcome:   audit.OutcomeSuccess,
		Policy:    &audit.Policy{Revision: 1234, Rule: "billing-may-post-invoices"},
		Trust:     &audit.Trust{Score: 93},
		RequestID: "req-5f1c9a7e",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		Details:   map[string]string{"method": "POST", "path": "/v1/invoices", "status": "201"},
	}
}
