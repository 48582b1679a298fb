package proxy_test

import (
	"io"
	"net/http/httptrace"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
)

// TestRevokedMidConnection checks that a revocation applied while a
// caller holds a kept-alive connection (whose certificate and token the
// proxy verified and cached on the first call) refuses the very next call
// on that same connection.
func TestRevokedMidConnection(t *testing.T) {
	tests := []struct {
		name   string
		revoke func(h *harness, svid *x509svid.SVID, jti string)
		reason string
	}{
		{name: "certificate serial", revoke: func(h *harness, s *x509svid.SVID, _ string) {
			h.env.Revoke(revocation.KindX509Serial, s.Certificates[0].SerialNumber.Text(16))
		}, reason: "revoked_client_certificate"},
		{name: "SPIFFE ID", revoke: func(h *harness, _ *x509svid.SVID, _ string) {
			h.env.Revoke(revocation.KindSPIFFEID, orders.String())
		}, reason: "revoked_client_certificate"},
		{name: "token jti", revoke: func(h *harness, _ *x509svid.SVID, jti string) {
			h.env.Revoke(revocation.KindJTI, jti)
		}, reason: "revoked_token"},
		{name: "token client", revoke: func(h *harness, _ *x509svid.SVID, _ string) {
			h.env.Revoke(revocation.KindClientID, "ci_orders")
		}, reason: "revoked_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, echo, false)
			svid := h.env.SVID(orders)
			jti := "jti-midconn"
			tok := h.env.Token(proxytest.Claims{Subject: orders.String(), ClientID: "ci_orders", JTI: jti, Scope: "read",
				BindCert: svid.Certificates[0]}, target.String(), proxytest.SignGood)
			cl := h.client(svid)
			do := func() (int, string, bool) {
				t.Helper()
				reused := false
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
				req := bearer(get(h, "/api/x"), tok)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), reused
			}
			for i := range 2 { // the second call is served from the caches
				if st, body, _ := do(); st != 200 {
					t.Fatalf("call %d before the revocation: %d %s", i, st, body)
				}
			}
			tt.revoke(h, svid, jti)
			st, body, reused := do()
			if !reused {
				t.Fatal("the call after the revocation did not reuse the connection")
			}
			if st != 401 || !strings.Contains(body, `"reason":"`+tt.reason+`"`) {
				t.Errorf("after the revocation: %d %s, want 401 %s", st, body, tt.reason)
			}
		})
	}
}
