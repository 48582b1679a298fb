package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/ledger"
)

// FuzzParseAttest feeds the parser of the untrusted attestation body: it
// must never panic, must answer every refusal with a problem safe to show,
// and must accept only bodies with a token and a CSR of bounded size.
func FuzzParseAttest(f *testing.F) {
	f.Add([]byte(`{"join_token":"kith_jt_0123456789ab_AAAA","csr":"MIIB"}`))
	f.Add([]byte(`{"join_token":"","csr":""}`))
	f.Add([]byte(`{"join_token":"x","csr":"!!"}`))
	f.Add([]byte(`{"join_token":"x","csr":"AA=="} {}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseAttest(body)
		if err != nil {
			var pe *problemError
			if !errors.As(err, &pe) || pe.status != 400 {
				t.Fatalf("refusal %v is not a 400 problem", err)
			}
			return
		}
		if in.JoinToken == "" || len(in.JoinToken) > 256 || len(in.CSR) == 0 || len(in.CSR) > ca.MaxCSRSize {
			t.Fatalf("accepted %+v", in)
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
	})
}

// FuzzParseTelemetry feeds the parser of the untrusted telemetry batch an
// agent uploads: it must never panic, must refuse with a 400 problem, and
// every record it accepts must make a ledger event that encodes within
// the ledger's entry limit, so that an accepted batch is never lost to a
// record the ledger refuses.
func FuzzParseTelemetry(f *testing.F) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	f.Add([]byte(`[{"time":"2026-11-28T11:59:00Z","direction":"inbound","caller":"spiffe://example.org/a","target":"spiffe://example.org/b",` +
		`"method":"GET","route":"/v1/x","status":200,"bytes_in":1,"bytes_out":2,"latency_us":3,"decision":"allow","trust_score":90}]`))
	f.Add([]byte(`[{"time":"2026-11-28T11:59:00Z","direction":"tcp","client_id":"c1","target":"spiffe://example.org/b","decision":"refused","reason":"no_credential"}]`))
	f.Add([]byte(`[{"time":"2099-01-01T00:00:00Z","direction":"inbound","target":"spiffe://example.org/b","decision":"allow"}]`))
	f.Add([]byte(`[{"direction":"sideways","target":"x","decision":"allow"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{}`))
	// Every text field at its limit, of characters JSON escapes six-fold.
	ctl, ctlID := strings.Repeat(`\u0001`, callrecord.MaxTextLen), strings.Repeat(`\u0001`, callrecord.MaxIDLen)
	f.Add([]byte(`[{"time":"2026-11-28T11:59:00Z","direction":"inbound","target":"spiffe://example.org/b","client_id":"` + ctlID +
		`","credential_id":"` + ctlID + `","credential_type":"` + ctl + `","method":"` + ctl + `","route":"` + ctl + `","path":"` + ctl +
		`","decision":"` + ctl + `","rule":"` + ctl + `","reason":"` + ctl + `"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, _, err := parseTelemetry(body, now)
		if err != nil {
			var pe *problemError
			if !errors.As(err, &pe) || pe.status != 400 {
				t.Fatalf("refusal %v is not a 400 problem", err)
			}
			return
		}
		for i := range batch {
			ev := batch[i].Event("spiffe://example.org/kith/agent/a1", "req-1")
			data, err := audit.Marshal(ev)
			if err != nil {
				t.Fatalf("record %d accepted, but its event does not encode: %v", i, err)
			}
			if len(data)+32 > ledger.MaxEntrySize {
				t.Fatalf("record %d accepted, but its event is %d bytes", i, len(data))
			}
		}
	})
}
