package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kith-dev/kith/internal/authn"
)

func TestNewRefusesBadConfig(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const tokenURL = "https://kith.test/oauth2/token"
	tests := []struct {
		name string
		cfg  Config
		want string // in the error; "" for none
	}{
		{"secret", Config{TokenURL: tokenURL, ClientID: "ci_a", Secret: "s"}, ""},
		{"certificate only", Config{TokenURL: tokenURL}, ""},
		{"http", Config{TokenURL: "http://kith.test/oauth2/token"}, "not an https URL"},
		{"no host", Config{TokenURL: "https:///oauth2/token"}, "not an https URL"},
		{"two credentials", Config{TokenURL: tokenURL, ClientID: "ci_a", Secret: "s", Key: key, KeyID: "k"}, "only one of"},
		{"key without id", Config{TokenURL: tokenURL, ClientID: "ci_a", Key: key}, "KeyID"},
		{"secret without client", Config{TokenURL: tokenURL, Secret: "s"}, "ClientID"},
		{"DPoP key of another type", Config{TokenURL: tokenURL, DPoPKey: otherSigner{key}}, "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: %v, want an error about %q", err, tt.want)
			case err != nil && !strings.HasPrefix(err.Error(), "oauth: "):
				t.Errorf("New: %v, want the SDK's \"oauth: \" prefix", err)
			}
		})
	}
}

// otherSigner is a signer whose public key no JWS algorithm fits.
type otherSigner struct{ crypto.Signer }

func (otherSigner) Public() crypto.PublicKey { return struct{}{} }

func TestDPoPProof(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDPoPSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	raw, err := d.proof("POST", "https://api.test/charge/1?x=y#f", now, "the-token", "n1")
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "dpop+jwt" {
		t.Errorf("typ %v, want dpop+jwt", typ)
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() {
		t.Fatalf("no public jwk in the header: %+v", h.JSONWebKey)
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		t.Fatalf("proof does not verify with its own key: %v", err)
	}
	var got authn.DPoPClaims
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	// The query and fragment are not part of htu; ath is
	// base64url(SHA-256("the-token")), computed apart.
	want := authn.DPoPClaims{HTM: "POST", HTU: "https://api.test/charge/1", Nonce: "n1",
		ATH: "wqc_z2HfvcrceaELozCy7162b8Cmc17Wm3lrs8l7l64"}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(authn.DPoPClaims{}, "JTI", "IssuedAt")); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if got.JTI == "" || got.IssuedAt == nil || !got.IssuedAt.Time().Equal(now) {
		t.Errorf("jti %q, iat %v; want a jti and iat %v", got.JTI, got.IssuedAt, now)
	}
	again, err := d.proof("POST", "https://api.test/charge/1", now, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if again == raw {
		t.Error("two proofs are the same: the jti is not fresh")
	}
}

func TestJitter(t *testing.T) {
	if got := jitter(0); got != 0 {
		t.Errorf("jitter(0) = %v", got)
	}
	for range 100 {
		if got := jitter(time.Minute); got < 0 || got >= time.Minute {
			t.Fatalf("jitter(1m) = %v, want in [0, 1m)", got)
		}
	}
}
