package dataplane

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// testBundle returns a bundle of td with one self-signed X.509 authority
// and one JWT authority, and the JWT authority's key.
func testBundle(t testing.TB, td spiffeid.TrustDomain) (*spiffebundle.Bundle, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		URIs: []*url.URL{td.ID().URL()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	jwtKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b := spiffebundle.New(td)
	b.AddX509Authority(cert)
	if err := b.AddJWTAuthority("k1", jwtKey.Public()); err != nil {
		t.Fatal(err)
	}
	return b, jwtKey
}

// signBatch signs a revocation batch as the server does.
func signBatch(t testing.TB, key *ecdsa.PrivateKey, kid string, b agentproto.RevocationBatch) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType(agentproto.RevocationsType).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(b)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApply(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	fed := spiffeid.RequireTrustDomainFromString("partner.test")
	own, jwtKey := testBundle(t, td)
	other, _ := testBundle(t, fed)
	ownRaw, _ := own.Marshal()
	fedRaw, _ := other.Marshal()
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	revokedAt := time.Now()
	batch := func(full bool, value string) agentproto.RevocationBatch {
		return agentproto.RevocationBatch{Revision: 1, Full: full, IssuedAt: revokedAt,
			Entries: []agentproto.Revocation{{Kind: "jti", Value: value, RevokedAt: revokedAt, Revision: 1}}}
	}
	var logs bytes.Buffer
	v, err := New(Config{SocketPath: "unused", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	full := &FeedMessage{Version: 1, Full: true, TrustDomain: td.Name(),
		Bundles:     map[string]json.RawMessage{td.Name(): ownRaw, fed.Name(): fedRaw},
		Revocations: []string{signBatch(t, jwtKey, "k1", batch(true, "good")), signBatch(t, forger, "k1", batch(false, "forged"))},
		Policies:    json.RawMessage(`{"revision":3,"documents":[]}`),
		TokenKeys:   json.RawMessage(`{"keys":[]}`), Issuer: "https://localhost:8443"}
	if err := v.Apply(full); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.Ready():
	default:
		t.Fatal("not ready after a full message")
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"signed revocation applied", v.IsRevoked("jti", "good", revokedAt.Add(-time.Second)), true},
		{"forged revocation ignored", v.IsRevoked("jti", "forged", revokedAt.Add(-time.Second)), false},
		{"forgery logged", bytes.Contains(logs.Bytes(), []byte("does not verify")), true},
		{"federated bundle", func() bool { _, err := v.GetX509BundleForTrustDomain(fed); return err == nil }(), true},
		{"policy revision", v.PolicyEngine().Revision() == 3, true},
		{"issuer", v.Issuer() == "https://localhost:8443", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	// A delta removes the federated bundle (and signals Changed); a
	// message of another trust domain is refused and changes nothing.
	changed := v.Changed()
	if err := v.Apply(&FeedMessage{Version: 2, BundlesRemoved: []string{fed.Name()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetJWTBundleForTrustDomain(fed); err == nil {
		t.Error("federated bundle still held after removal")
	}
	select {
	case <-changed:
	default:
		t.Error("Changed not closed by an applied message")
	}
	changed = v.Changed()
	if err := v.Apply(&FeedMessage{Version: 3, Full: true, TrustDomain: "evil.test"}); err == nil {
		t.Error("a message of another trust domain was applied")
	}
	select {
	case <-changed:
		t.Error("Changed closed by a refused message")
	default:
	}
	if v.Version() != 2 {
		t.Errorf("Version = %d, want 2", v.Version())
	}
}

// TestTrust follows the trust states a View is fed: the starting state
// before any (never zero), a full table, deltas, and a later full table
// that drops what it does not list.
func TestTrust(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	own, _ := testBundle(t, td)
	ownRaw, _ := own.Marshal()
	v, err := New(Config{SocketPath: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "spiffe://example.org/a", "spiffe://example.org/b"
	check := func(step, caller string, score int, level string) {
		t.Helper()
		if got := v.Trust(caller); got.Score != score || got.Level != level {
			t.Errorf("%s: Trust(%s) = %+v, want %d %s", step, caller, got, score, level)
		}
	}
	check("before any table", a, 700, "medium")
	apply := func(m *FeedMessage) {
		t.Helper()
		if err := v.Apply(m); err != nil {
			t.Fatal(err)
		}
	}
	apply(&FeedMessage{Version: 1, Full: true, TrustDomain: td.Name(), Bundles: map[string]json.RawMessage{td.Name(): ownRaw},
		Trust: &agentproto.TrustUpdate{Full: true, Entries: []agentproto.TrustEntry{{ID: a, Score: 450, Signals: []string{"rate.spike"}}}}})
	check("full table", a, 450, "low")
	check("full table, unlisted", b, 700, "medium")
	if got := v.Trust(a).Signals; len(got) != 1 || got[0] != "rate.spike" {
		t.Errorf("signals = %v", got)
	}
	apply(&FeedMessage{Version: 2, Trust: &agentproto.TrustUpdate{Entries: []agentproto.TrustEntry{{ID: b, Score: 150}, {Score: 1}}}})
	check("delta", b, 150, "untrusted")
	check("delta keeps the rest", a, 450, "low")
	apply(&FeedMessage{Version: 3, Policies: json.RawMessage(`{"revision":1,"documents":[]}`)})
	check("a message without trust", b, 150, "untrusted")
	apply(&FeedMessage{Version: 4, Trust: &agentproto.TrustUpdate{Full: true, Default: 900, Entries: []agentproto.TrustEntry{{ID: a, Score: 2000}}}})
	check("new full table, clamped", a, 1000, "high")
	check("new full table drops", b, 900, "high")
	if v.TrustLen() != 1 {
		t.Errorf("TrustLen = %d, want 1", v.TrustLen())
	}
}
