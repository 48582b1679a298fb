package oauth

import (
	"errors"
	"slices"
	"time"
)

// exchange grants a delegated token (RFC 8693): the authenticated client,
// the actor, presents an access token it received (the subject token) and
// obtains a token to call further on behalf of the token's subject. The
// new token keeps the subject, records the actor in an act claim nested
// over the subject token's own act chain, never carries more scopes than
// the subject token and the actor both hold, and never outlives the
// subject token. The subject token must have been issued for the actor:
// its aud names the actor's SPIFFE ID or client ID.
func (s *Service) exchange(auth *authResult, req *tokenRequest, now time.Time) (*grant, error) {
	sub, err := s.parseAccessToken(req.subject, now)
	if errors.Is(err, errExpired) {
		return nil, invalidGrant("the subject token has expired")
	}
	if err != nil {
		return nil, &protocolError{code: codeInvalidGrant, desc: "the subject token is not an access token of this server", cause: err}
	}
	if s.revoked(sub) {
		return nil, invalidGrant("the subject token is revoked")
	}
	self := []string{auth.entry.SPIFFEID.String(), string(auth.client.ID)}
	if !slices.ContainsFunc(sub.Audience, func(a string) bool { return slices.Contains(self, a) }) {
		return nil, invalidGrant("the subject token was not issued for this client: its aud must name the client's SPIFFE ID or client ID")
	}
	if depth := sub.Act.depth() + 1; depth > s.cfg.MaxDelegationDepth {
		return nil, invalidGrant("the delegation chain would be %d actors deep; at most %d are allowed", depth, s.cfg.MaxDelegationDepth)
	}
	var subScopes []string
	if sub.Scope != "" {
		subScopes = splitScope(sub.Scope)
	}
	allowed := intersect(intersect(subScopes, auth.client.Scopes), auth.entry.MaxScopes)
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
		act:       &actor{Subject: auth.entry.SPIFFEID.String(), ClientID: string(auth.client.ID), Act: sub.Act},
		acr:       acr,
		notAfter:  time.Unix(sub.Expiry, 0),
		exchanged: true,
	}, nil
}

// splitScope splits a scope claim on spaces.
func splitScope(s string) []string {
	var out []string
	for start := 0; start <= len(s); {
		end := start
		for end < len(s) && s[end] != ' ' {
			end++
		}
		if end > start {
			out = append(out, s[start:end])
		}
		start = end + 1
	}
	return out
}
