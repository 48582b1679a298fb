package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
)

// maxAssertionBytes bounds a client assertion.
const maxAssertionBytes = 8 << 10

// maxAssertionLifetime bounds how far in the future a private_key_jwt
// assertion may expire, which bounds how long its jti is remembered.
const maxAssertionLifetime = 10 * time.Minute

// assertion is a parsed, not yet verified, client assertion.
type assertion struct {
	tok    *jwt.JSONWebToken
	kid    string
	claims assertionClaims
	svid   spiffeid.ID // set when the subject is a SPIFFE ID: a JWT-SVID
}

// assertionClaims are the claims of a client assertion that Kith reads.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// parseAssertion parses a client assertion without verifying it: one
// signature with an accepted algorithm, and a subject that is either a
// client ID (private_key_jwt, RFC 7523 §3: iss and sub are the client ID)
// or a SPIFFE ID (a JWT-SVID). Errors are invalid_client.
func parseAssertion(raw string) (*assertion, error) {
	if len(raw) > maxAssertionBytes {
		return nil, invalidClient(errors.New("client assertion too long"))
	}
	tok, err := jwt.ParseSigned(raw, signingAlgs)
	if err != nil || len(tok.Headers) != 1 {
		return nil, invalidClient(errors.New("client assertion is not a signed JWT"))
	}
	a := &assertion{tok: tok, kid: tok.Headers[0].KeyID}
	if err := tok.UnsafeClaimsWithoutVerification(&a.claims); err != nil {
		return nil, invalidClient(fmt.Errorf("client assertion claims: %v", err))
	}
	if a.claims.Subject == "" {
		return nil, invalidClient(errors.New("client assertion has no sub"))
	}
	if strings.HasPrefix(a.claims.Subject, "spiffe://") {
		if a.svid, err = spiffeid.FromString(a.claims.Subject); err != nil {
			return nil, invalidClient(errors.New("client assertion sub is a malformed SPIFFE ID"))
		}
	} else if a.claims.Issuer != a.claims.Subject {
		return nil, invalidClient(errors.New("client assertion iss and sub differ"))
	}
	if a.claims.Expiry == nil {
		return nil, invalidClient(errors.New("client assertion has no exp"))
	}
	return a, nil
}

// authAssertion authenticates a client by a private_key_jwt assertion or
// a JWT-SVID, parsed by parseAssertion (parseErr if it did not parse). It
// returns the claimed client in the form the ledger may
// hold (see recordedClaim): the SPIFFE ID of a JWT-SVID only once its
// signature verified.
func (s *Service) authAssertion(ctx context.Context, clientID string, a *assertion, parseErr error, endpoint string, now time.Time) (*authResult, string, error) {
	if parseErr != nil {
		return nil, recordedClaim(clientID), parseErr
	}
	if !a.svid.IsZero() {
		res, proven, err := s.authJWTSVID(ctx, clientID, a, endpoint, now)
		claimed := recordedClaim(firstNonEmpty(clientID, a.svid.String()))
		if clientID == "" && proven {
			claimed = a.svid.String()
		}
		return res, claimed, err
	}
	if clientID != "" && clientID != a.claims.Subject {
		return nil, recordedClaim(clientID), invalidClient(errors.New("client_id differs from the assertion's sub"))
	}
	res, err := s.authPrivateKeyJWT(ctx, a, endpoint, now)
	return res, recordedClaim(a.claims.Subject), err
}

// authPrivateKeyJWT verifies an RFC 7523 assertion with the client's
// registered key; the result carries its jti, for useOnce to remember
// until it expires.
func (s *Service) authPrivateKeyJWT(ctx context.Context, a *assertion, endpoint string, now time.Time) (*authResult, error) {
	cl, err := s.clients.client(ctx, ClientID(a.claims.Subject))
	if err != nil {
		return nil, lookupFailed(err)
	}
	if cl.AuthMethod != AuthPrivateKeyJWT {
		return nil, invalidClient(fmt.Errorf("client is registered for %s, not private_key_jwt", cl.AuthMethod))
	}
	key := cl.keys[a.kid]
	if a.kid == "" && len(cl.keys) == 1 {
		for _, k := range cl.keys {
			key = k
		}
	}
	if key == nil {
		return nil, invalidClient(fmt.Errorf("no registered key %q", truncate(a.kid)))
	}
	if alg := a.tok.Headers[0].Algorithm; key.Algorithm != "" && key.Algorithm != alg {
		return nil, invalidClient(fmt.Errorf("assertion alg %s does not match the key's %s", alg, key.Algorithm))
	}
	var claims assertionClaims
	if err := a.tok.Claims(key.Key, &claims); err != nil {
		return nil, invalidClient(errors.New("client assertion signature does not verify"))
	}
	if err := s.checkAssertionClaims(claims, endpoint, now); err != nil {
		return nil, err
	}
	exp := claims.Expiry.Time()
	if exp.Sub(now) > maxAssertionLifetime {
		return nil, invalidClient(fmt.Errorf("client assertion expires more than %v ahead", maxAssertionLifetime))
	}
	if claims.ID == "" {
		return nil, invalidClient(errors.New("client assertion has no jti"))
	}
	res, err := s.authorize(ctx, cl, AuthPrivateKeyJWT, key.KeyID, nil)
	if err != nil {
		return nil, err
	}
	// The jti is remembered by useOnce, after the rate limit.
	res.once = &oneTimeID{key: "pkj\x00" + claims.ID, expires: exp.Add(clockSkew)}
	return res, nil
}

// oneTimeID is an identifier a request may use once: the jti of a
// verified private_key_jwt assertion.
type oneTimeID struct {
	key     string
	expires time.Time
}

// useOnce remembers the one-time identifier of an authentication, if any,
// in its client's share of the replay cache. It returns invalid_client if
// it was used before, a 429 error if the client's share is full, or
// errReplayFull. Call it once the signature verified and the client's
// rate limit let the request through, so that neither a forged assertion
// nor a flood beyond the rate limit takes room in the cache.
func (s *Service) useOnce(auth *authResult, now time.Time) error {
	if auth.once == nil {
		return nil
	}
	first, err := s.replay.firstUse(string(auth.client.ID), auth.once.key, auth.once.expires, now)
	if err != nil {
		return err
	}
	if !first {
		return invalidClient(errors.New("client assertion jti replayed"))
	}
	return nil
}

// authJWTSVID verifies a JWT-SVID of the trust domain with package authn
// (signature by a JWT authority of the trust domain's bundle, audience
// naming this server, lifetime) and finds the jwt_svid client of its
// SPIFFE ID; then asks the revocation set about its jti and SPIFFE ID. A
// JWT-SVID is a reusable bearer credential until it expires, so its jti is
// not checked for replay. proven reports whether the JWT-SVID verified.
func (s *Service) authJWTSVID(ctx context.Context, clientID string, a *assertion, endpoint string, now time.Time) (res *authResult, proven bool, err error) {
	if a.svid.TrustDomain() != s.cfg.TrustDomain {
		return nil, false, invalidClient(fmt.Errorf("JWT-SVID of foreign trust domain %s", truncate(a.svid.TrustDomain().Name())))
	}
	accepted := func(aud string) bool { return s.acceptedAudience(aud, endpoint) }
	svid, err := authn.VerifyJWTSVID(a.tok, a.svid, accepted, s.bundles, nil, now, false)
	if err != nil {
		return nil, false, invalidClient(err)
	}
	cl, err := s.clientForSPIFFEID(ctx, clientID, a.svid, AuthJWTSVID)
	if err != nil {
		return nil, true, err
	}
	if err := authn.CheckJWTSVID(s.revs, svid.ID, svid.JTI, svid.IssuedAt); err != nil {
		return nil, true, invalidClient(err)
	}
	res, err = s.authorize(ctx, cl, AuthJWTSVID, "jwt-svid:"+a.kid, nil)
	return res, true, err
}

// checkAssertionClaims checks the audience and the time claims of a
// verified assertion.
func (s *Service) checkAssertionClaims(c assertionClaims, endpoint string, now time.Time) error {
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return s.acceptedAudience(a, endpoint) }) {
		return invalidClient(errors.New("client assertion audience does not name this server"))
	}
	if !now.Before(c.Expiry.Time().Add(clockSkew)) {
		return invalidClient(errors.New("client assertion expired"))
	}
	if c.NotBefore != nil && now.Add(clockSkew).Before(c.NotBefore.Time()) {
		return invalidClient(errors.New("client assertion not yet valid"))
	}
	if c.IssuedAt != nil && now.Add(clockSkew).Before(c.IssuedAt.Time()) {
		return invalidClient(errors.New("client assertion issued in the future"))
	}
	return nil
}
