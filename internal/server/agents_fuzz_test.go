package server

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/kith-dev/kith/internal/ca"
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
