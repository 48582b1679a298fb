package authn

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Claims are the verified claims of an access token (RFC 9068). Those of
// a [TokenVerifier] with a cache are shared by every call presenting the
// same token: callers must not modify them.
type Claims struct {
	Issuer   string
	Subject  string // the SPIFFE ID of the workload the token is about
	Audience []string
	Expiry   time.Time
	IssuedAt time.Time
	ID       string // jti
	ClientID string
	Scopes   []string
	// ACR says how strongly the client authenticated:
	// urn:kith:acr:secret < urn:kith:acr:private_key < urn:kith:acr:svid.
	ACR string
	// CertThumbprint and DPoPThumbprint are the token's binding
	// (cnf.x5t#S256 and cnf.jkt), empty for a bearer token.
	CertThumbprint string
	DPoPThumbprint string
	// Actor is the chain of services acting for Subject, for a token
	// obtained by token exchange (RFC 8693 act claim); nil otherwise.
	Actor *Actor
}

// Actor is one link of a delegation chain: the service that acts, and
// the actor it acted for in turn.
type Actor struct {
	Subject  string
	ClientID string
	Actor    *Actor
}

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// MaxActors bounds the delegation chain of a token; a token with a longer
// chain does not verify.
const MaxActors = 16

// rawClaims is the JSON form of the claims (RFC 9068 §2.2, with cnf from
// RFC 8705 and RFC 9449 and act from RFC 8693).
type rawClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      Audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	JTI      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	ACR      string   `json:"acr"`
	Cnf      *struct {
		X5T string `json:"x5t#S256"`
		JKT string `json:"jkt"`
	} `json:"cnf"`
	Act *rawActor `json:"act"`
}

type rawActor struct {
	Sub      string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Act      *rawActor `json:"act"`
}

// Audience is the aud claim of a JWT (RFC 7519 §4.1.3), which JSON
// carries as one string or an array of strings.
type Audience []string

// UnmarshalJSON accepts a string or an array of strings, and returns an
// error for anything else.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = many
	return nil
}

// claims returns the claims of r, or an error for an actor chain longer
// than MaxActors.
func (r *rawClaims) claims() (*Claims, error) {
	c := &Claims{Issuer: r.Iss, Subject: r.Sub, Audience: r.Aud, ID: r.JTI, ClientID: r.ClientID, ACR: r.ACR,
		IssuedAt: time.Unix(r.Iat, 0)}
	if r.Exp != 0 {
		c.Expiry = time.Unix(r.Exp, 0)
	}
	if r.Scope != "" {
		c.Scopes = strings.Fields(r.Scope)
	}
	if r.Cnf != nil {
		c.CertThumbprint, c.DPoPThumbprint = r.Cnf.X5T, r.Cnf.JKT
	}
	next := &c.Actor
	for a, n := r.Act, 0; a != nil; a, n = a.Act, n+1 {
		if n == MaxActors {
			return nil, fmt.Errorf("the delegation chain is longer than %d actors", MaxActors)
		}
		*next = &Actor{Subject: a.Sub, ClientID: a.ClientID}
		next = &(*next).Actor
	}
	return c, nil
}
