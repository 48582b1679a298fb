package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Peer is a TLS peer's X509-SVID as [X509Verifier.Verify] verified it. A
// Peer may be shared by every call presenting the same certificate:
// callers must not modify it.
type Peer struct {
	// ID is the peer's SPIFFE ID.
	ID spiffeid.ID
	// Serial is the leaf's serial number in lower-case hex.
	Serial string
	// Thumbprint is the base64url SHA-256 of the leaf's DER encoding, the
	// cnf.x5t#S256 of a token bound to it (RFC 8705 §3.1).
	Thumbprint string

	serial    serialNames
	notBefore time.Time // the leaf's: revocation cut-offs compare to it
}

// X509Config configures an [X509Verifier]. Zero values are documented
// defaults.
type X509Config struct {
	// Bundles gives the X.509 bundles of the trust domains whose SVIDs
	// are accepted (own and federated). It is asked on every call whether
	// the peer's trust domain still has one. Required.
	Bundles x509bundle.Source
	// Revocations is the revocation set, asked on every call; nil checks
	// nothing.
	Revocations RevocationChecker
	// TrustDomain, if set, is the only trust domain whose SVIDs are
	// accepted, whatever Bundles holds.
	TrustDomain spiffeid.TrustDomain
	// BundleVersion, if set, says which version of the bundles a chain is
	// verified against (the bundle's sequence number, say); a chain
	// verified against another version is verified again. It is read
	// before the bundles, so that a chain is never remembered under a
	// version newer than the one it was verified against.
	BundleVersion func() uint64
	// MaxCacheEntries bounds the verified chains remembered; zero turns
	// the cache off and verifies every chain on every call.
	MaxCacheEntries int
	// CacheTTL bounds how long a verified chain is reused; zero reuses it
	// until a certificate of the chain expires (never past that in any
	// case). A trust bundle losing one of its authorities takes up to
	// CacheTTL to bite, unless BundleVersion changes.
	CacheTTL time.Duration
}

// X509Verifier verifies X509-SVID chains presented by TLS peers and
// remembers the chains it verified, since a chain verification costs far
// more than the rest of a call. Only the signatures are remembered: the
// revocation set and the presence of the peer's trust domain among the
// bundles are checked on every call. It is safe for concurrent use.
type X509Verifier struct {
	cfg   X509Config
	cache *verifiedCache[[sha256.Size]byte, verifiedChain] // nil when off
}

// verifiedChain is a remembered chain verification.
type verifiedChain struct {
	peer      *Peer
	validFrom time.Time // the latest NotBefore of the chain
	version   uint64    // of the bundles it was verified against
}

// NewX509Verifier returns an X509Verifier for cfg. It returns an error if
// cfg.Bundles is nil.
func NewX509Verifier(cfg X509Config) (*X509Verifier, error) {
	if cfg.Bundles == nil {
		return nil, errors.New("authn: X509Config.Bundles is required")
	}
	v := &X509Verifier{cfg: cfg}
	if cfg.MaxCacheEntries > 0 {
		v.cache = newVerifiedCache[[sha256.Size]byte, verifiedChain](cfg.MaxCacheEntries)
	}
	return v, nil
}

// Verify verifies certs, a peer's certificate chain leaf first as TLS
// presents it, as an X509-SVID at now: against the X.509 bundle of its
// trust domain in Bundles (own or federated), then against the revocation
// set (see [CheckX509SVID]), and returns the peer. A chain whose leaf was
// verified before is not verified again while its verification is
// remembered (see [X509Config]).
//
// It returns an error wrapping [ErrNoX509SVID] for an empty chain,
// [ErrUntrustedDomain] for a peer of a trust domain without a bundle (or
// not the configured one), [ErrInvalidX509SVID] for a chain that does not
// verify, or [ErrRevoked] for a revoked one.
func (v *X509Verifier) Verify(certs []*x509.Certificate, now time.Time) (*Peer, error) {
	if len(certs) == 0 {
		return nil, ErrNoX509SVID
	}
	var version uint64
	if v.cfg.BundleVersion != nil {
		version = v.cfg.BundleVersion()
	}
	leaf := certs[0]
	sum := sha256.Sum256(leaf.Raw)
	if v.cache != nil {
		if c, ok := v.cache.get(sum, now); ok && c.version == version && !now.Before(c.validFrom) {
			p := c.peer
			if _, err := v.cfg.Bundles.GetX509BundleForTrustDomain(p.ID.TrustDomain()); err != nil {
				return nil, fmt.Errorf("%w: %s", ErrUntrustedDomain, p.ID.TrustDomain())
			}
			if err := p.serial.check(v.cfg.Revocations, p.ID, p.notBefore); err != nil {
				return nil, err
			}
			return p, nil
		}
	}
	id, err := verifyChain(certs, v.cfg.Bundles, v.cfg.TrustDomain, now)
	if err != nil {
		return nil, err
	}
	p := &Peer{ID: id, serial: serialNamesOf(leaf), notBefore: leaf.NotBefore,
		Thumbprint: base64.RawURLEncoding.EncodeToString(sum[:])}
	p.Serial = p.serial.text
	if v.cache != nil {
		validFrom, expiry := leaf.NotBefore, leaf.NotAfter
		for _, c := range certs[1:] {
			if c.NotBefore.After(validFrom) {
				validFrom = c.NotBefore
			}
			if c.NotAfter.Before(expiry) {
				expiry = c.NotAfter
			}
		}
		v.cache.put(sum, verifiedChain{peer: p, validFrom: validFrom, version: version}, cacheUntil(now, v.cfg.CacheTTL, expiry), now)
	}
	if err := p.serial.check(v.cfg.Revocations, p.ID, p.notBefore); err != nil {
		return nil, err
	}
	return p, nil
}
