package proxy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
)

// call is one request of a case.
type call struct {
	svid *x509svid.SVID
	req  *http.Request
}

// inboundCase is a call (or two: then the second one's answer is checked)
// through the inbound proxy and what the caller and upstream must see.
type inboundCase struct {
	name string
	// prepare sets the case up and returns its calls.
	prepare func(t *testing.T, h *harness) []call
	status  int
	reason  string // the problem's reason, for refusals
	// upstream lines the upstream must have seen, for allowed calls.
	upstream []string
	// header is a response header that must contain a value.
	header [2]string
}

func get(h *harness, path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	return r
}

func bearer(r *http.Request, tok string) *http.Request {
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func one(svid *x509svid.SVID, r *http.Request) []call { return []call{{svid, r}} }

func inboundCases() []inboundCase {
	tok := func(h *harness, c proxytest.Claims) string {
		if c.Subject == "" {
			c.Subject = orders.String()
		}
		if c.ClientID == "" {
			c.ClientID = "ci_orders"
		}
		return h.env.Token(c, target.String(), proxytest.SignGood)
	}
	return []inboundCase{
		{name: "allowed", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), get(h, "/api/x"))
		}, status: 200, upstream: []string{"Kith-Caller-Spiffe-Id=" + orders.String(), "Kith-Decision=allow"}},
		{name: "no client certificate", prepare: func(t *testing.T, h *harness) []call {
			return one(nil, get(h, "/api/x"))
		}, status: 401, reason: "client_certificate_required"},
		{name: "untrusted domain", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(evil), get(h, "/api/x"))
		}, status: 401, reason: "untrusted_trust_domain"},
		{name: "federated domain without its bundle", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(partner), get(h, "/api/x"))
		}, status: 401, reason: "untrusted_trust_domain"},
		{name: "federated domain with its bundle", prepare: func(t *testing.T, h *harness) []call {
			h.env.AddPartner()
			return one(h.env.SVID(partner), get(h, "/api/x"))
		}, status: 200, upstream: []string{"Kith-Caller-Spiffe-Id=" + partner.String()}},
		{name: "revoked certificate", prepare: func(t *testing.T, h *harness) []call {
			s := h.env.SVID(orders)
			h.env.Revoke(revocation.KindX509Serial, s.Certificates[0].SerialNumber.Text(16))
			return one(s, get(h, "/api/x"))
		}, status: 401, reason: "revoked_client_certificate"},
		{name: "revoked SPIFFE ID", prepare: func(t *testing.T, h *harness) []call {
			s := h.env.SVID(orders)
			h.env.Revoke(revocation.KindSPIFFEID, orders.String())
			return one(s, get(h, "/api/x"))
		}, status: 401, reason: "revoked_client_certificate"},
		{name: "valid token", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tok(h, proxytest.Claims{Scope: "read"})))
		}, status: 200, upstream: []string{"Kith-Caller-Client-Id=ci_orders"}},
		{name: "expired token", prepare: func(t *testing.T, h *harness) []call {
			c := proxytest.Claims{IssuedAt: time.Now().Add(-time.Hour), Expiry: time.Now().Add(-10 * time.Minute)}
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tok(h, c)))
		}, status: 401, reason: "expired_token", header: [2]string{"Www-Authenticate", "invalid_token"}},
		{name: "wrong audience", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tok(h, proxytest.Claims{Audience: []string{"spiffe://example.org/other"}})))
		}, status: 401, reason: "invalid_token"},
		{name: "wrong issuer", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tok(h, proxytest.Claims{Issuer: "https://evil.example"})))
		}, status: 401, reason: "invalid_token"},
		{name: "alg none", prepare: func(t *testing.T, h *harness) []call {
			tk := h.env.Token(proxytest.Claims{Subject: orders.String()}, target.String(), proxytest.SignNone)
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tk))
		}, status: 401, reason: "invalid_token"},
		{name: "re-signed token", prepare: func(t *testing.T, h *harness) []call {
			tk := h.env.Token(proxytest.Claims{Subject: orders.String()}, target.String(), proxytest.SignOther)
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tk))
		}, status: 401, reason: "invalid_token"},
		{name: "token bound to this certificate", prepare: func(t *testing.T, h *harness) []call {
			s := h.env.SVID(orders)
			return one(s, bearer(get(h, "/api/x"), tok(h, proxytest.Claims{BindCert: s.Certificates[0]})))
		}, status: 200},
		{name: "token bound to another certificate", prepare: func(t *testing.T, h *harness) []call {
			other := h.env.SVID(orders)
			return one(h.env.SVID(orders), bearer(get(h, "/api/x"), tok(h, proxytest.Claims{BindCert: other.Certificates[0]})))
		}, status: 401, reason: "invalid_token_binding"},
		{name: "DPoP", prepare: func(t *testing.T, h *harness) []call {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tk := tok(h, proxytest.Claims{BindKey: key})
			r := get(h, "/api/x")
			r.Header.Set("Authorization", "DPoP "+tk)
			r.Header.Set("DPoP", proxytest.DPoPProof(t, key, "GET", h.url+"/api/x", tk))
			return one(h.env.SVID(orders), r)
		}, status: 200},
		{name: "replayed DPoP proof", prepare: func(t *testing.T, h *harness) []call {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tk := tok(h, proxytest.Claims{BindKey: key})
			proof := proxytest.DPoPProof(t, key, "GET", h.url+"/api/x", tk)
			s := h.env.SVID(orders)
			var calls []call
			for range 2 {
				r := get(h, "/api/x")
				r.Header.Set("Authorization", "DPoP "+tk)
				r.Header.Set("DPoP", proof)
				calls = append(calls, call{s, r})
			}
			return calls
		}, status: 401, reason: "invalid_token_binding"},
		{name: "audit", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), get(h, "/audit"))
		}, status: 200, upstream: []string{"Kith-Decision=audit"}},
		{name: "rate limit", prepare: func(t *testing.T, h *harness) []call {
			s := h.env.SVID(orders)
			return []call{{s, get(h, "/limited")}, {s, get(h, "/limited")}}
		}, status: 429, reason: "rate_limited", header: [2]string{"Retry-After", "1"}},
		{name: "restrict", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/restricted"), tok(h, proxytest.Claims{Scope: "read write"})))
		}, status: 200, upstream: []string{"Kith-Decision=restrict", "Kith-Scopes=read"}},
		{name: "step-up asked", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/admin"), tok(h, proxytest.Claims{ACR: "urn:kith:acr:secret"})))
		}, status: 401, reason: "insufficient_user_authentication", header: [2]string{"Www-Authenticate", `acr_values="urn:kith:acr:svid"`}},
		{name: "step-up satisfied", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), bearer(get(h, "/admin"), tok(h, proxytest.Claims{ACR: "urn:kith:acr:svid"})))
		}, status: 200, upstream: []string{"Kith-Decision=allow"}},
		{name: "deny", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), get(h, "/deny"))
		}, status: 403, reason: "denied"},
		{name: "default deny", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(orders), get(h, "/elsewhere"))
		}, status: 403, reason: "denied"},
		{name: "quarantine", prepare: func(t *testing.T, h *harness) []call {
			return one(h.env.SVID(badActor), get(h, "/api/x"))
		}, status: 403, reason: "quarantined"},
		{name: "spoofed identity headers stripped", prepare: func(t *testing.T, h *harness) []call {
			r := get(h, "/api/x")
			r.Header.Set("Kith-Caller-Spiffe-Id", "spiffe://example.org/admin")
			r.Header.Set("Kith-Caller-Client-Id", "ci_admin")
			r.Header.Set("Kith-Scopes", "everything")
			r.Header.Set("kith-decision", "allow-all")
			return one(h.env.SVID(orders), r)
		}, status: 200, upstream: []string{"Kith-Caller-Spiffe-Id=" + orders.String(), "Kith-Decision=allow"}},
	}
}

// send sends c and returns the status, headers and body of the answer.
func send(t *testing.T, h *harness, c call) (int, http.Header, string) {
	t.Helper()
	resp, err := h.client(c.svid).Do(c.req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.req.Method, c.req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestInbound(t *testing.T) {
	for _, tc := range inboundCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, echo, false)
			calls := tc.prepare(t, h)
			var (
				status int
				hdr    http.Header
				body   string
			)
			for _, c := range calls {
				status, hdr, body = send(t, h, c)
			}
			if status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", status, tc.status, body)
			}
			if tc.reason != "" {
				if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
					t.Errorf("body = %s, want reason %s", body, tc.reason)
				}
				if got := h.rec.last().Reason; got != tc.reason {
					t.Errorf("recorded reason = %q, want %q", got, tc.reason)
				}
			}
			if tc.header[0] != "" && !strings.Contains(hdr.Get(tc.header[0]), tc.header[1]) {
				t.Errorf("%s = %q, want it to contain %q", tc.header[0], hdr.Get(tc.header[0]), tc.header[1])
			}
			seen := strings.Split(body, "\n")
			for _, want := range tc.upstream {
				found := false
				for _, s := range seen {
					found = found || s == want
				}
				if !found {
					t.Errorf("upstream saw %q, want %q among them", seen, want)
				}
			}
			if tc.status == 200 {
				for _, s := range seen {
					if strings.Contains(s, "admin") || strings.Contains(s, "everything") || strings.Contains(s, "allow-all") {
						t.Errorf("spoofed header reached the upstream: %s", s)
					}
				}
			}
		})
	}
}
