package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/authn"
)

// maxJWTCache caps the JWT-SVIDs cached; beyond it expired ones are
// dropped, and if that is not enough, all of them.
const maxJWTCache = 4096

// jwtMinter signs JWT-SVIDs; the agent implements it with POST
// /agent/v1/svids/jwt.
type jwtMinter interface {
	mintJWT(ctx context.Context, req agentproto.JWTSVIDRequest) (*agentproto.JWTSVIDResponse, error)
}

// jwtRecord is a cached JWT-SVID.
type jwtRecord struct {
	token    string
	id       spiffeid.ID
	jti      string
	issuedAt time.Time
	expires  time.Time
	renewAt  time.Time // half-life
}

// jwtCache caches JWT-SVIDs per entry (and its SPIFFE ID) and audience
// until half their lifetime, and never hands out a revoked one.
type jwtCache struct {
	minter jwtMinter
	state  *state
	clock  func() time.Time

	mu sync.Mutex
	m  map[string]*jwtRecord
}

func newJWTCache(m jwtMinter, s *state, clock func() time.Time) *jwtCache {
	return &jwtCache{minter: m, state: s, clock: clock, m: map[string]*jwtRecord{}}
}

// get returns a JWT-SVID of e for audience, from the cache or freshly
// minted. It returns the minting error.
func (c *jwtCache) get(ctx context.Context, e agentproto.Entry, audience []string) (string, error) {
	aud := slices.Clone(audience)
	slices.Sort(aud)
	aud = slices.Compact(aud)
	key := e.ID + "\x00" + e.SPIFFEID + "\x00" + strings.Join(aud, "\x00")
	now := c.clock()
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(r.renewAt) && authn.CheckJWTSVID(c.state, r.id, r.jti, r.issuedAt) == nil {
		return r.token, nil
	}
	resp, err := c.minter.mintJWT(ctx, agentproto.JWTSVIDRequest{EntryID: e.ID, Audience: audience})
	if err != nil {
		return "", fmt.Errorf("mint JWT-SVID: %w", err)
	}
	v, err := authn.ValidateJWTSVID(resp.Token, audience[0], c.state, nil, now)
	if err != nil {
		return "", fmt.Errorf("minted JWT-SVID: %w", err)
	}
	if v.ID.String() != e.SPIFFEID {
		return "", fmt.Errorf("minted JWT-SVID names %s, the entry %s", v.ID, e.SPIFFEID)
	}
	r = &jwtRecord{token: resp.Token, id: v.ID, issuedAt: v.IssuedAt, expires: v.Expiry}
	r.jti, _ = v.Claims["jti"].(string)
	start := v.IssuedAt
	if start.IsZero() {
		start = now
	}
	r.renewAt = start.Add(v.Expiry.Sub(start) / 2)
	c.mu.Lock()
	if len(c.m) >= maxJWTCache {
		for k, old := range c.m {
			if !now.Before(old.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxJWTCache {
			clear(c.m)
		}
	}
	c.m[key] = r
	c.mu.Unlock()
	return r.token, nil
}

// clear drops every cached token.
func (c *jwtCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// errNotAttested is returned by calls to the server before attestation.
var errNotAttested = errors.New("agent not attested yet")

// mintX509 implements x509Minter with POST /agent/v1/svids/x509.
func (a *Agent) mintX509(ctx context.Context, req agentproto.X509SVIDRequest) (*agentproto.X509SVIDResponse, error) {
	hc := a.httpClient()
	if hc == nil {
		return nil, errNotAttested
	}
	var resp agentproto.X509SVIDResponse
	if err := postJSON(ctx, hc, a.serverURL, agentproto.X509SVIDsPath, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// mintJWT implements jwtMinter with POST /agent/v1/svids/jwt.
func (a *Agent) mintJWT(ctx context.Context, req agentproto.JWTSVIDRequest) (*agentproto.JWTSVIDResponse, error) {
	hc := a.httpClient()
	if hc == nil {
		return nil, errNotAttested
	}
	var resp agentproto.JWTSVIDResponse
	if err := postJSON(ctx, hc, a.serverURL, agentproto.JWTSVIDPath, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
