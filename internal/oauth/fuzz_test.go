package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// FuzzTokenRequest feeds arbitrary bodies and Authorization headers to the
// token request parsers: they must never panic, and what they accept must
// hold to the rules they promise.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi.example", "Basic Y2k6c2Vj")
	f.Add("grant_type=client_credentials&scope=a&scope=b", "")
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&audience=spiffe%3A%2F%2Fa%2Fb&audience=https%3A%2F%2Fc", "")
	f.Add("grant_type=client_credentials&client_id=ci_x&client_secret=kith_sk_x", "Basic %%%")
	f.Add("grant_type=&scope=&resource=", "Basic OmZvbw==")
	f.Add("a=%zz;b=1", "Bearer x")
	f.Add("grant_type=client_credentials&resource=%23frag&scope=%22", "Basic "+strings.Repeat("A", 100))
	f.Fuzz(func(t *testing.T, body, authz string) {
		form, err := parseForm(body)
		if err != nil {
			if pe, ok := err.(*protocolError); !ok || pe.code != codeInvalidRequest {
				t.Fatalf("parseForm error %v is not invalid_request", err)
			}
			return
		}
		for name, vs := range form {
			if len(vs) == 0 || (len(vs) > 1 && !multiValued(name)) {
				t.Fatalf("parseForm kept %q with %d values", name, len(vs))
			}
			for _, v := range vs {
				if v == "" || !utf8.ValidString(v) {
					t.Fatalf("parseForm kept an empty or invalid value for %q", name)
				}
			}
		}
		req, err := parseTokenRequest(form)
		if err == nil {
			if req.grantType != grantClientCredentials && req.grantType != grantTokenExchange {
				t.Fatalf("accepted grant type %q", req.grantType)
			}
			for _, s := range req.scope {
				if !validScopeToken(s) {
					t.Fatalf("accepted scope token %q", s)
				}
			}
			for _, r := range append(req.resources, req.audiences...) {
				if checkResource(r) != nil {
					t.Fatalf("accepted resource %q", r)
				}
			}
		} else if _, ok := err.(*protocolError); !ok {
			t.Fatalf("parseTokenRequest error %T is not a protocol error", err)
		}
		r := httptest.NewRequest("POST", "https://kith.test/oauth2/token", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		c, err := readCredentials(r, form)
		if err == nil && c.basic && (c.basicID == "" || !utf8.ValidString(c.basicID)) {
			t.Fatalf("accepted Basic client ID %q", c.basicID)
		}
	})
}

// FuzzClientAssertion feeds arbitrary strings to the client assertion
// parser.
func FuzzClientAssertion(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(claims map[string]any) string {
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k"))
		tok, _ := jwt.Signed(s).Claims(claims).Serialize()
		return tok
	}
	f.Add(sign(map[string]any{"iss": "ci_a", "sub": "ci_a", "aud": "https://kith.test", "exp": 2e9, "jti": "x"}))
	f.Add(sign(map[string]any{"sub": "spiffe://kith.test/w", "aud": []string{"https://kith.test"}, "exp": 2e9}))
	f.Add(sign(map[string]any{"sub": "spiffe://bad id", "exp": "soon"}))
	f.Add(sign(map[string]any{"iss": "a", "sub": "b"}))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := parseAssertion(raw)
		if err != nil {
			if pe, ok := err.(*protocolError); !ok || pe.code != codeInvalidClient {
				t.Fatalf("parseAssertion error %v is not invalid_client", err)
			}
			return
		}
		if a.claims.Subject == "" || a.claims.Expiry == nil {
			t.Fatalf("accepted an assertion without sub or exp: %+v", a.claims)
		}
		if a.svid.IsZero() && a.claims.Issuer != a.claims.Subject {
			t.Fatalf("accepted a private_key_jwt assertion whose iss and sub differ")
		}
		if alg := a.tok.Headers[0].Algorithm; alg == "none" || strings.HasPrefix(alg, "HS") {
			t.Fatalf("accepted alg %q", alg)
		}
	})
}

// FuzzParseSecret feeds arbitrary strings to the secret parser: what it
// accepts has the secret's exact shape.
func FuzzParseSecret(f *testing.F) {
	s, _ := NewSecret()
	f.Add(s.Reveal())
	f.Add(SecretPrefix)
	f.Add("kith_sk_" + strings.Repeat("0", 49))
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		sec, err := ParseSecret(in)
		if err != nil {
			return
		}
		if len(sec.Reveal()) != secretLen || !strings.HasPrefix(in, SecretPrefix) {
			t.Fatalf("accepted %q", in)
		}
	})
}

// FuzzClientKey feeds arbitrary JSON to the client key parser: what it
// accepts is a public signing key with a kid.
func FuzzClientKey(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jose.JSONWebKey{Key: key.Public(), KeyID: "k", Algorithm: "ES256"}.MarshalJSON()
	priv, _ := jose.JSONWebKey{Key: key, KeyID: "k"}.MarshalJSON()
	f.Add(string(pub))
	f.Add(string(priv))
	f.Add(`{"kty":"oct","k":"AAAA","kid":"x"}`)
	f.Add(`{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		k, canon, err := parseClientKey([]byte(in))
		if err != nil {
			return
		}
		if !k.IsPublic() || k.KeyID == "" || len(canon) == 0 {
			t.Fatalf("accepted %q", in)
		}
		if _, _, err := parseClientKey(canon); err != nil {
			t.Fatalf("canonical form %s does not parse again: %v", canon, err)
		}
	})
}

// FuzzRedaction feeds arbitrary text to what prepares untrusted text for
// the ledger and the log: no secret prefix survives redaction, text
// without one is left alone, and a recorded claim is a client ID or a
// fingerprint.
func FuzzRedaction(f *testing.F) {
	s, _ := NewSecret()
	f.Add(s.Reveal())
	f.Add("client " + strings.ToUpper(s.Reveal()) + " not found, nor " + s.Reveal()[:20])
	f.Add("kith_sk_kith_sk_kith_sk_")
	f.Add("scope " + s.Reveal()[len(SecretPrefix):] + " and " + strings.Repeat("a", 42))
	f.Add("ci_abcdefghijklmnopqrstuvwxyz")
	f.Add("spiffe://kith.test/orders")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		out := redactSecrets(in)
		if indexSecretPrefix(out, 0) >= 0 {
			t.Fatalf("redactSecrets(%q) = %q keeps a secret prefix", in, out)
		}
		if longBase62Run(out) {
			t.Fatalf("redactSecrets(%q) = %q keeps a secret's random part", in, out)
		}
		if indexSecretPrefix(in, 0) < 0 && !longBase62Run(in) && out != in {
			t.Fatalf("redactSecrets(%q) = %q changed text without a secret", in, out)
		}
		if c := recordedClaim(in); c != "" && !validClientIDSyntax(c) &&
			(!strings.HasPrefix(c, "unknown:sha256:") || len(c) != len("unknown:sha256:")+16) {
			t.Fatalf("recordedClaim(%q) = %q", in, c)
		}
		if tr := truncate(in); indexSecretPrefix(tr, 0) >= 0 {
			t.Fatalf("truncate(%q) = %q keeps a secret prefix", in, tr)
		}
	})
}
