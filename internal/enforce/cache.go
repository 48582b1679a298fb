package enforce

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"github.com/kith-dev/kith/sdk/oauth"
)

// verifiedCache remembers the results of signature verifications (an
// X509-SVID chain, an access token) by the SHA-256 of what was verified,
// each until a deadline. Only the expensive, immutable part of a
// verification is cached: what can change while a credential is in use
// (the revocation set, the binding to a connection, the trust bundles) is
// checked by the caller on every call.
//
// It is bounded: when full, it drops expired entries and, if that frees
// nothing, all of them; forgetting an entry only costs a verification.
type verifiedCache[V any] struct {
	max int

	mu sync.RWMutex
	m  map[[sha256.Size]byte]cached[V]
}

type cached[V any] struct {
	v     V
	until time.Time
}

func newVerifiedCache[V any](max int) *verifiedCache[V] {
	return &verifiedCache[V]{max: max, m: make(map[[sha256.Size]byte]cached[V])}
}

// get returns the value cached under key if it is still valid at now.
func (c *verifiedCache[V]) get(key [sha256.Size]byte, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put caches v under key until until.
func (c *verifiedCache[V]) put(key [sha256.Size]byte, v V, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[key] = cached[V]{v: v, until: until}
}

// cachedToken verifies r's access token. A token whose signature, issuer
// and audience were verified before is not verified again (see
// [Config.CacheTTL]), but on every call it must not be revoked (jti,
// client, subject, actors) and its binding is checked in full: the call
// must come over its certificate, or carry a fresh DPoP proof of its key
// for this request, never seen before. It returns the errors of
// [oauth.Verifier.Verify].
func (e *Enforcer) cachedToken(iv *issuerVerifier, r *http.Request, now time.Time) (*oauth.Claims, error) {
	v := iv.v
	if e.tokens == nil {
		return v.Verify(r)
	}
	raw, p, err := v.Presented(r)
	if err != nil {
		return nil, err
	}
	// The issuer is part of the key: a token verified for an earlier
	// issuer is verified again.
	h := sha256.New()
	h.Write([]byte(iv.issuer))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var key [sha256.Size]byte
	h.Sum(key[:0])
	if c, ok := e.tokens.get(key, now); ok {
		if e.tokenRevoked(c) {
			return nil, oauth.ErrRevoked
		}
		if err := v.CheckBinding(c, raw, p); err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := v.VerifyToken(r.Context(), raw, p)
	if err != nil {
		return c, err
	}
	until := now.Add(e.cfg.CacheTTL)
	if c.Expiry.Before(until) {
		until = c.Expiry
	}
	e.tokens.put(key, c, until, now)
	return c, nil
}

// tokenRevoked asks the revocation set about c's jti, client, subject and
// actors, as oauth.Verifier does.
func (e *Enforcer) tokenRevoked(c *oauth.Claims) bool {
	rv := e.cfg.Revocations
	if rv.IsRevoked("jti", c.ID, c.IssuedAt) || rv.IsRevoked("client_id", c.ClientID, c.IssuedAt) ||
		rv.IsRevoked("spiffe_id", c.Subject, c.IssuedAt) {
		return true
	}
	for a := c.Actor; a != nil; a = a.Actor {
		if rv.IsRevoked("spiffe_id", a.Subject, c.IssuedAt) || (a.ClientID != "" && rv.IsRevoked("client_id", a.ClientID, c.IssuedAt)) {
			return true
		}
	}
	return false
}
