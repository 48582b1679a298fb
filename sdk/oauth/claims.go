package oauth

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Claims are the verified claims of an access token (RFC 9068).
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

// rawClaims is the JSON form of the claims.
type rawClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	JTI      string          `json:"jti"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
	ACR      string          `json:"acr"`
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

// maxActors bounds the delegation chain a verifier reads.
const maxActors = 16

func (r *rawClaims) claims() *Claims {
	c := &Claims{Issuer: r.Iss, Subject: r.Sub, ID: r.JTI, ClientID: r.ClientID, ACR: r.ACR}
	var one string
	if json.Unmarshal(r.Aud, &one) == nil {
		c.Audience = []string{one}
	} else {
		json.Unmarshal(r.Aud, &c.Audience)
	}
	if r.Exp != 0 {
		c.Expiry = time.Unix(r.Exp, 0)
	}
	c.IssuedAt = time.Unix(r.Iat, 0)
	if r.Scope != "" {
		c.Scopes = strings.Fields(r.Scope)
	}
	if r.Cnf != nil {
		c.CertThumbprint, c.DPoPThumbprint = r.Cnf.X5T, r.Cnf.JKT
	}
	next := &c.Actor
	for a, n := r.Act, 0; a != nil && n < maxActors; a, n = a.Act, n+1 {
		*next = &Actor{Subject: a.Sub, ClientID: a.ClientID}
		next = &(*next).Actor
	}
	return c
}
