package oauth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/kith-dev/kith/internal/authn"
)

// exchange grants a delegated token (RFC 8693): the authenticated client,
// the actor, presents an access token it received (the subject token) and
// obtains a token to call further on behalf of the token's subject. The
// new token keeps the subject, records the actor in an act claim nested
// over the subject token's own act chain, never carries more scopes than
// the subject token and the actor both hold, and never outlives the
// subject token. The subject token must have been issued for the actor:
// its aud names the actor's SPIFFE ID or client ID.
func (s *Service) exchange(ctx context.Context, auth *authResult, req *tokenRequest, now time.Time) (*grant, error) {
	sub, err := s.tokens.Parse(ctx, req.subject, now)
	if errors.Is(err, authn.ErrTokenExpired) && !errors.Is(err, authn.ErrTokenNotYetValid) {
		return nil, invalidGrant("the subject token has expired")
	}
	if err != nil {
		return nil, &protocolError{code: codeInvalidGrant, desc: "the subject token is not an access token of this server", cause: err}
	}
	if s.tokens.CheckRevocation(sub) != nil {
		return nil, invalidGrant("the subject token is revoked")
	}
	self := []string{auth.entry.SPIFFEID.String(), string(auth.client.ID)}
	if !slices.ContainsFunc(sub.Audience, func(a string) bool { return slices.Contains(self, a) }) {
		return nil, invalidGrant("the subject token was not issued for this client: its aud must name the client's SPIFFE ID or client ID")
	}
	act := actorOf(sub.Actor)
	if depth := act.depth() + 1; depth > s.cfg.MaxDelegationDepth {
		return nil, invalidGrant("the delegation chain would be %d actors deep; at most %d are allowed", depth, s.cfg.MaxDelegationDepth)
	}
	allowed := intersect(intersect(sub.Scopes, auth.client.Scopes), auth.entry.MaxScopes)
	scopes, err := narrowScopes(req.scope, allowed)
	if err != nil {
		return nil, err
	}
	targets := slices.Clone(req.resources)
	for _, a := range req.audiences {
		targets = appendUnique(targets, a)
	}
	aud, err := s.audienceFor(auth, targets)
	if err != nil {
		return nil, err
	}
	acr := auth.method.acr()
	if acrRank(sub.ACR) < acrRank(acr) {
		acr = sub.ACR
	}
	return &grant{
		subject:   sub.Subject,
		scopes:    scopes,
		audience:  aud,
		act:       &actor{Subject: auth.entry.SPIFFEID.String(), ClientID: string(auth.client.ID), Act: act},
		acr:       acr,
		notAfter:  sub.Expiry,
		exchanged: true,
	}, nil
}
