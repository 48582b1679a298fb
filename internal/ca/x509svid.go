package ca

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// MaxCSRSize is the largest certificate signing request, in bytes of DER,
// that MintX509SVID parses.
const MaxCSRSize = 16 << 10

// maxDNSNames caps the DNS names of one X509-SVID.
const maxDNSNames = 32

// X509Params asks for an X509-SVID.
type X509Params struct {
	// CSR is a PKCS#10 certificate signing request in DER. Only its public
	// key and signature are used; its subject and extensions are ignored.
	CSR []byte
	// SPIFFEID is the identity to certify: a workload ID (with a path) in
	// the CA's trust domain.
	SPIFFEID spiffeid.ID
	// TTL is the lifetime asked for; 0 means Config.X509SVIDTTL. The SVID
	// never outlives the CA certificate that signs it.
	TTL time.Duration
	// DNSNames are added as DNS SANs; optional.
	DNSNames []string
	// IPAddresses are added as IP address SANs; optional. At most
	// 32, each 4 or 16 bytes.
	IPAddresses []net.IP
	// NotBefore, if set, is the earliest start of validity: the CA
	// normally backdates NotBefore a few seconds for clock skew, and a
	// caller whose SPIFFE ID was revoked moments ago (revocations cut off
	// by issue time) raises the start above the cut-off. It must not be in
	// the future.
	NotBefore time.Time
}

// X509SVID is a minted X509-SVID.
type X509SVID struct {
	// ID is the SPIFFE ID in the leaf's URI SAN.
	ID spiffeid.ID
	// Certificates is the leaf first, then the intermediates up to, not
	// including, a root of the trust bundle. They must not be modified.
	Certificates []*x509.Certificate
	// ExpiresAt is the leaf's NotAfter.
	ExpiresAt time.Time
	// SerialNumber is the leaf's serial number.
	SerialNumber *big.Int
}

// MintX509SVID certifies the public key of p.CSR for p.SPIFFEID with the
// active CA key. The leaf has the SPIFFE ID as its only URI SAN, is not a
// CA, may only make digital signatures (server and client authentication),
// has a random 128-bit serial number, and expires at the earlier of now+TTL
// and its issuer's NotAfter.
//
// It returns an error wrapping [ErrInvalidSPIFFEID] if the ID is not a
// workload ID of the trust domain, [ErrInvalidParams] for a negative TTL,
// a malformed DNS name or IP address, [ErrInvalidCSR] if the CSR is larger than
// [MaxCSRSize], malformed, signed with a weak algorithm or its signature
// does not verify, [ErrUnsupportedKey] for keys other than ECDSA P-256/P-384,
// RSA of 2048 to 8192 bits and Ed25519, and [ErrUnavailable] if the active
// key has expired.
func (c *CA) MintX509SVID(ctx context.Context, p X509Params) (*X509SVID, error) {
	if err := c.checkID(p.SPIFFEID); err != nil {
		return nil, err
	}
	ttl, err := ttlOrDefault(p.TTL, c.cfg.X509SVIDTTL)
	if err != nil {
		return nil, err
	}
	if p.NotBefore.After(c.cfg.Clock()) {
		return nil, fmt.Errorf("%w: NotBefore %s is in the future", ErrInvalidParams, p.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := checkDNSNames(p.DNSNames); err != nil {
		return nil, err
	}
	if err := checkIPAddresses(p.IPAddresses); err != nil {
		return nil, err
	}
	csr, err := parseCSR(p.CSR)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(csr.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	s := c.cur.Load().active
	if s == nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, errNoActive)
	}
	now := c.cfg.Clock()
	notAfter := earliest(now.Add(ttl), s.notAfter())
	if !notAfter.After(now) {
		return nil, fmt.Errorf("%w: active key %s expired at %v", ErrUnavailable, s.id, s.notAfter())
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:            c.cfg.Subject.Country,
			Organization:       c.cfg.Subject.Organization,
			OrganizationalUnit: c.cfg.Subject.OrganizationalUnit,
		},
		NotBefore:             latest(latest(now.Add(-certBackdate), s.notBefore()), p.NotBefore),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
		URIs:                  []*url.URL{p.SPIFFEID.URL()},
		DNSNames:              p.DNSNames,
		IPAddresses:           p.IPAddresses,
		SubjectKeyId:          ski,
	}
	if len(p.DNSNames) > 0 {
		tmpl.Subject.CommonName = p.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cert, csr.PublicKey, s.signer)
	if err != nil {
		return nil, fmt.Errorf("ca: sign X509-SVID: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parse X509-SVID: %w", err)
	}
	certs := make([]*x509.Certificate, 0, 1+len(s.chain))
	certs = append(certs, leaf)
	certs = append(certs, s.chain...)
	return &X509SVID{ID: p.SPIFFEID, Certificates: certs, ExpiresAt: leaf.NotAfter, SerialNumber: leaf.SerialNumber}, nil
}

// checkID accepts workload IDs of the CA's trust domain.
func (c *CA) checkID(id spiffeid.ID) error {
	switch {
	case id.IsZero():
		return fmt.Errorf("%w: empty SPIFFE ID", ErrInvalidSPIFFEID)
	case !id.MemberOf(c.td):
		return fmt.Errorf("%w: %s is not in trust domain %s", ErrInvalidSPIFFEID, id, c.td)
	case id.Path() == "":
		return fmt.Errorf("%w: %s names the trust domain, not a workload", ErrInvalidSPIFFEID, id)
	}
	return nil
}

func ttlOrDefault(ttl, def time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("%w: negative TTL %v", ErrInvalidParams, ttl)
	case ttl == 0:
		return def, nil
	}
	return ttl, nil
}

// newSerial returns a random positive serial number of at most 128 bits.
func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ca: serial number: %w", err)
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID derives a SubjectKeyId per RFC 7093 §2 method 1: the
// leftmost 160 bits of the SHA-256 of the subjectPublicKey bits.
func subjectKeyID(rawSPKI []byte) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(rawSPKI, &spki); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: malformed public key", ErrInvalidCSR)
	}
	h := sha256.Sum256(spki.PublicKey.Bytes)
	return h[:20], nil
}
