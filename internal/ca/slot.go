package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// slotStatus is where a key slot is in its lifecycle.
type slotStatus string

const (
	statusPrepared slotStatus = "prepared" // published, not yet signing
	statusActive   slotStatus = "active"   // signing
	statusOld      slotStatus = "old"      // published until its NotAfter
)

// keyID names a key slot. It is the JWT "kid" of the slot's JWT key, and its
// bytes are the SubjectKeyId of the slot's CA certificate.
type keyID string

// certBackdate is how far NotBefore is set in the past to absorb clock skew.
const certBackdate = 10 * time.Second

// slot is a decoded key slot: its certificates and unsealed keys. A slot is
// immutable once built; a status change makes a new slot value.
type slot struct {
	_         [0]func() // holds private keys: not comparable
	rec       slotRecord
	id        keyID
	status    slotStatus
	cert      *x509.Certificate
	chain     []*x509.Certificate // certificates SVIDs carry after the leaf
	signer    crypto.Signer
	jwtPublic crypto.PublicKey
	jwtSigner jose.Signer
	root      bool // cert is self-signed
}

// LogValue logs the slot without its keys.
func (s *slot) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key_id", string(s.id)),
		slog.String("status", string(s.status)),
		slog.Time("not_before", s.rec.NotBefore),
		slog.Time("not_after", s.rec.NotAfter),
	)
}

func (s *slot) notBefore() time.Time { return s.rec.NotBefore }
func (s *slot) notAfter() time.Time  { return s.rec.NotAfter }

// withStatus returns a copy of s with another status.
func (s *slot) withStatus(st slotStatus) *slot {
	c := &slot{rec: s.rec, id: s.id, status: st, cert: s.cert, chain: s.chain,
		signer: s.signer, jwtPublic: s.jwtPublic, jwtSigner: s.jwtSigner, root: s.root}
	c.rec.Status = string(st)
	return c
}

// sealAAD binds a sealed key to its trust domain, slot and purpose.
func sealAAD(td spiffeid.TrustDomain, id keyID, purpose string) []byte {
	return []byte("kith/ca/v1\x00" + td.Name() + "\x00" + string(id) + "\x00" + purpose)
}

const (
	purposeX509 = "x509-ca-key"
	purposeJWT  = "jwt-key"
)

// newSlot generates keys and a CA certificate for a new slot.
func (c *CA) newSlot(now time.Time, status slotStatus) (*slot, error) {
	idBytes := make([]byte, 16)
	if _, err := rand.Read(idBytes); err != nil {
		return nil, fmt.Errorf("ca: new key id: %w", err)
	}
	id := keyID(hex.EncodeToString(idBytes))
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate CA key: %w", err)
	}
	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate JWT key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               c.cfg.Subject,
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(c.cfg.CATTL),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs leaves only
		URIs:                  []*url.URL{c.td.ID().URL()},
		SubjectKeyId:          idBytes,
	}
	parent, parentKey := tmpl, crypto.Signer(caKey)
	var chain []*x509.Certificate
	if u := c.cfg.Upstream; u != nil {
		parent, parentKey, chain = u.Certificates[0], u.Signer, u.chain()
		tmpl.NotBefore = latest(tmpl.NotBefore, parent.NotBefore)
		tmpl.NotAfter = earliest(tmpl.NotAfter, u.notAfter())
		if !tmpl.NotAfter.After(now) {
			return nil, fmt.Errorf("ca: upstream certificate expired at %v", tmpl.NotAfter)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, caKey.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("ca: sign CA certificate: %w", err)
	}
	rec := slotRecord{ID: string(id), Status: string(status), CACert: der}
	for _, cc := range chain {
		rec.Chain = append(rec.Chain, cc.Raw)
	}
	if rec.SealedCAKey, err = c.sealKey(caKey, id, purposeX509); err != nil {
		return nil, err
	}
	if rec.SealedJWTKey, err = c.sealKey(jwtKey, id, purposeJWT); err != nil {
		return nil, err
	}
	if rec.JWTPublicKey, err = x509.MarshalPKIXPublicKey(jwtKey.Public()); err != nil {
		return nil, fmt.Errorf("ca: marshal JWT public key: %w", err)
	}
	return c.openSlot(rec)
}

func (c *CA) sealKey(key *ecdsa.PrivateKey, id keyID, purpose string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal key: %w", err)
	}
	defer clear(der)
	sealed, err := c.cfg.KEK.Seal(der, sealAAD(c.td, id, purpose))
	if err != nil {
		return nil, fmt.Errorf("ca: seal key: %w", err)
	}
	return sealed, nil
}

func (c *CA) openKey(sealed []byte, id keyID, purpose string) (*ecdsa.PrivateKey, error) {
	der, err := c.cfg.KEK.Open(sealed, sealAAD(c.td, id, purpose))
	if err != nil {
		return nil, fmt.Errorf("%w: slot %s: %s: %w", ErrJournal, id, purpose, err)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: slot %s: %s: %w", ErrJournal, id, purpose, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: slot %s: %s is not an ECDSA P-256 key", ErrJournal, id, purpose)
	}
	return ek, nil
}

// openSlot decodes a stored slot and unseals its keys, checking that they
// match the certificate and the recorded public key.
func (c *CA) openSlot(rec slotRecord) (*slot, error) {
	id := keyID(rec.ID)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: slot %q: %s", ErrJournal, id, fmt.Sprintf(format, args...))
	}
	st := slotStatus(rec.Status)
	switch st {
	case statusPrepared, statusActive, statusOld:
	default:
		return nil, bad("unknown status %q", rec.Status)
	}
	idBytes, err := hex.DecodeString(rec.ID)
	if err != nil || len(idBytes) != 16 {
		return nil, bad("malformed id")
	}
	cert, err := x509.ParseCertificate(rec.CACert)
	if err != nil {
		return nil, bad("CA certificate: %v", err)
	}
	if !bytes.Equal(cert.SubjectKeyId, idBytes) || !cert.IsCA {
		return nil, bad("CA certificate does not belong to the slot")
	}
	// The certificate is the source of truth for the validity period.
	rec.NotBefore, rec.NotAfter = cert.NotBefore.UTC(), cert.NotAfter.UTC()
	s := &slot{rec: rec, id: id, status: st, cert: cert}
	s.root = bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil
	if !s.root {
		s.chain = append(s.chain, cert)
	}
	for _, der := range rec.Chain {
		cc, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, bad("chain: %v", err)
		}
		s.chain = append(s.chain, cc)
	}
	caKey, err := c.openKey(rec.SealedCAKey, id, purposeX509)
	if err != nil {
		return nil, err
	}
	if !caKey.PublicKey.Equal(cert.PublicKey) {
		return nil, bad("CA key does not match its certificate")
	}
	s.signer = caKey
	jwtKey, err := c.openKey(rec.SealedJWTKey, id, purposeJWT)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(rec.JWTPublicKey)
	if err != nil || !jwtKey.PublicKey.Equal(pub) {
		return nil, bad("JWT key does not match its public key")
	}
	s.jwtPublic = pub
	s.jwtSigner, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: jwtKey, KeyID: string(id)}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, bad("JWT signer: %v", err)
	}
	return s, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
