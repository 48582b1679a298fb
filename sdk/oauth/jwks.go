package oauth

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/internal/authn"
)

// KeySource gives the issuer's signing keys by key ID. It returns an
// error wrapping [ErrUnknownKey] for a key ID it does not know; any other
// error means the keys could not be read. It must be safe for concurrent
// use.
type KeySource interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// jwksRefresh is how long a fetched JWKS is used before it is fetched
// again, and jwksMinRefetch how often an unknown kid may trigger a fetch.
const (
	jwksRefresh    = 5 * time.Minute
	jwksMinRefetch = 10 * time.Second
)

// jwksSource fetches a JWKS over HTTPS and caches it. An unknown kid
// triggers a fetch, at most every jwksMinRefetch, so a key rotation is
// seen at once and a flood of bogus kids costs one fetch per interval.
type jwksSource struct {
	url   string
	hc    *http.Client
	clock func() time.Time

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

// Key implements [KeySource].
func (s *jwksSource) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	k, ok := s.keys[kid]
	stale := now.Sub(s.fetched) >= jwksRefresh
	if (!ok || stale) && (s.keys == nil || now.Sub(s.fetched) >= jwksMinRefetch) {
		keys, err := s.fetch(ctx)
		if err != nil && s.keys == nil {
			return nil, err
		}
		if err == nil {
			s.keys, s.fetched = keys, now
			k, ok = keys[kid]
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return k, nil
}

func (s *jwksSource) fetch(ctx context.Context) (map[string]crypto.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("oauth: JWKS request: %w", err)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth: fetch JWKS: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("oauth: read JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("oauth: parse JWKS: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.KeyID != "" && k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			keys[k.KeyID] = k.Key
		}
	}
	return keys, nil
}

// StaticKeys is a [KeySource] holding a fixed JWKS, for tests and for
// resource servers that are handed the keys.
type StaticKeys jose.JSONWebKeySet

// Key implements [KeySource].
func (s StaticKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return authn.StaticKeys(s).Key(ctx, kid)
}
