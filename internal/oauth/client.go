package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/internal/store"
)

// ClientID identifies an OAuth client: "ci_" and 26 base32 characters
// holding 128 random bits.
type ClientID string

// String returns the ID's text.
func (id ClientID) String() string { return string(id) }

// newClientID returns a fresh client ID from crypto/rand.
func newClientID() (ClientID, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauth: client id: %w", err)
	}
	return ClientID("ci_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))), nil
}

// AuthMethod is how a client authenticates at the token endpoint.
type AuthMethod string

// Authentication methods. JWTSVID is Kith's name for a JWT-SVID sent as
// the client assertion (assertion type
// urn:ietf:params:oauth:client-assertion-type:jwt-spiffe, or jwt-bearer).
const (
	AuthSecretBasic   AuthMethod = "client_secret_basic"
	AuthSecretPost    AuthMethod = "client_secret_post"
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	AuthJWTSVID       AuthMethod = "jwt_svid"
	AuthTLSClient     AuthMethod = "tls_client_auth"
)

// authMethods lists the methods in the order metadata shows them.
var authMethods = []AuthMethod{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthJWTSVID, AuthTLSClient}

// ParseAuthMethod returns the method named s; empty means
// client_secret_basic. It returns a *ValidationError for an unknown name.
func ParseAuthMethod(s string) (AuthMethod, error) {
	if s == "" {
		return AuthSecretBasic, nil
	}
	if m := AuthMethod(s); slices.Contains(authMethods, m) {
		return m, nil
	}
	return "", invalidField("auth_method", "unknown method %q (want one of %s)", truncate(s), methodNames())
}

func methodNames() string {
	names := make([]string, len(authMethods))
	for i, m := range authMethods {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// usesSecret reports whether m authenticates with a client secret.
func (m AuthMethod) usesSecret() bool { return m == AuthSecretBasic || m == AuthSecretPost }

// Authentication context class references put in the acr claim, in order
// of strength: a shared secret, a private key the client holds, and an
// attested workload identity (SVID).
const (
	ACRSecret     = "urn:kith:acr:secret"
	ACRPrivateKey = "urn:kith:acr:private_key"
	ACRSVID       = "urn:kith:acr:svid"
)

// acr returns the acr value of method m.
func (m AuthMethod) acr() string {
	switch m {
	case AuthPrivateKeyJWT:
		return ACRPrivateKey
	case AuthJWTSVID, AuthTLSClient:
		return ACRSVID
	}
	return ACRSecret
}

// acrRank orders acr values by strength; unknown values rank lowest.
func acrRank(acr string) int {
	switch acr {
	case ACRSecret:
		return 1
	case ACRPrivateKey:
		return 2
	case ACRSVID:
		return 3
	}
	return 0
}

// SecretInfo describes one of a client's secrets, without the secret.
type SecretInfo struct {
	ID        string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: until the next rotation
}

// KeyInfo is one of a client's public keys.
type KeyInfo struct {
	KeyID     string
	JWK       json.RawMessage // the public JWK
	CreatedAt time.Time
}

// Client is an OAuth client: the entry it acts for, how it authenticates,
// the scopes it may be granted and the audiences it may reach.
type Client struct {
	ID          ClientID
	EntryID     string
	AuthMethod  AuthMethod
	Scopes      []string
	Audiences   []string
	Description string
	Secrets     []SecretInfo
	Keys        []KeyInfo
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// ClientSpec is what a caller gives to create a client.
type ClientSpec struct {
	// EntryID is the registry entry the client acts for. Required.
	EntryID string
	// AuthMethod is how the client authenticates; empty means
	// client_secret_basic.
	AuthMethod string
	// Scopes are the scopes the client may be granted; each must be among
	// the entry's max scopes.
	Scopes []string
	// Audiences are the resources (absolute URIs, such as SPIFFE IDs or
	// https URLs) the client may obtain tokens for; at least one.
	Audiences []string
	// Description is free text.
	Description string
	// Keys are public JWKs, for private_key_jwt clients.
	Keys []json.RawMessage
}

// ClientFilter narrows [Service.ListClients].
type ClientFilter struct {
	EntryID string
	After   string // cursor: the last ID of the previous page
	Limit   int    // zero: 100; at most 1000
}

// Limits on client fields.
const (
	maxScopes      = 256
	maxScopeLen    = 256
	maxAudiences   = 32
	maxAudienceLen = 512
	maxDescription = 1024
	maxKeys        = 16
	maxKeyIDLen    = 128
)

// parseScopeList validates scope tokens (RFC 6749 §3.3) and removes
// duplicates, keeping the first of each.
func parseScopeList(field string, in []string) ([]string, error) {
	if len(in) > maxScopes {
		return nil, invalidField(field, "at most %d scopes", maxScopes)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !validScopeToken(s) {
			return nil, invalidField(field, "scope %q is not a scope token (RFC 6749 §3.3)", truncate(s))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// validScopeToken reports whether s is 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > maxScopeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// parseAudiences validates a client's audiences: absolute URIs without a
// fragment, as RFC 8707 asks of resource indicators.
func parseAudiences(in []string) ([]string, error) {
	if len(in) == 0 || len(in) > maxAudiences {
		return nil, invalidField("audiences", "give 1 to %d audiences", maxAudiences)
	}
	out := make([]string, 0, len(in))
	for _, a := range in {
		if err := checkResource(a); err != nil {
			return nil, invalidField("audiences", "%q: %s", truncate(a), err.desc)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// checkResource checks a resource indicator: an absolute URI without a
// fragment (RFC 8707 §2). It returns an invalid_target error.
func checkResource(s string) *protocolError {
	if len(s) > maxAudienceLen || !utf8.ValidString(s) {
		return invalidTarget("a resource must be an absolute URI of at most %d bytes", maxAudienceLen)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.HasSuffix(s, "#") {
		return invalidTarget("a resource must be an absolute URI without a fragment")
	}
	return nil
}

// signingAlgs are the algorithms accepted in client assertions and DPoP
// proofs.
var signingAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA}

// parseClientKey validates a client's public JWK and returns it with its
// canonical JSON. It must be public, carry a kid, be a P-256/384/521, RSA
// (at least 2048 bits) or Ed25519 signing key, and name no other use.
func parseClientKey(raw []byte) (*jose.JSONWebKey, []byte, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, nil, invalidField("jwk", "not a JWK: %v", err)
	}
	if !k.Valid() || !k.IsPublic() {
		return nil, nil, invalidField("jwk", "must be a valid public key")
	}
	if k.KeyID == "" || len(k.KeyID) > maxKeyIDLen || !utf8.ValidString(k.KeyID) {
		return nil, nil, invalidField("jwk", "needs a kid of 1 to %d bytes", maxKeyIDLen)
	}
	if k.Use != "" && k.Use != "sig" {
		return nil, nil, invalidField("jwk", "use must be sig")
	}
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() && pub.Curve != elliptic.P521() {
			return nil, nil, invalidField("jwk", "unsupported curve")
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, nil, invalidField("jwk", "RSA keys need at least 2048 bits")
		}
	case ed25519.PublicKey:
	default:
		return nil, nil, invalidField("jwk", "key type %T is not supported", k.Key)
	}
	if k.Algorithm != "" && !slices.Contains(signingAlgs, jose.SignatureAlgorithm(k.Algorithm)) {
		return nil, nil, invalidField("jwk", "alg %q is not supported", truncate(k.Algorithm))
	}
	canon, err := k.MarshalJSON()
	if err != nil {
		return nil, nil, invalidField("jwk", "cannot encode: %v", err)
	}
	return &k, canon, nil
}

// secretHash is a stored secret in the form the hot path checks.
type secretHash struct {
	hash    [32]byte
	expires time.Time // zero: never
}

// clientRecord is a client as the request path uses it: parsed keys and
// secret hashes.
type clientRecord struct {
	Client
	hashes []secretHash
	keys   map[string]*jose.JSONWebKey
}

// toStore returns the stored form of c with the given secret hashes.
func (c *clientRecord) toStore() store.OAuthClient {
	rec := store.OAuthClient{
		ID: string(c.ID), EntryID: c.EntryID, AuthMethod: string(c.AuthMethod),
		Scopes: c.Scopes, Audiences: c.Audiences, Description: c.Description,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
	}
	for i, s := range c.Secrets {
		rec.Secrets = append(rec.Secrets, store.OAuthClientSecret{ID: s.ID, Hash: c.hashes[i].hash[:],
			CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	for _, k := range c.Keys {
		rec.Keys = append(rec.Keys, store.OAuthClientKey{KeyID: k.KeyID, JWK: k.JWK, CreatedAt: k.CreatedAt})
	}
	return rec
}

// fromStore parses a stored client. A record that no longer parses is
// reported, not guessed at.
func fromStore(rec store.OAuthClient) (*clientRecord, error) {
	c := &clientRecord{Client: Client{
		ID: ClientID(rec.ID), EntryID: rec.EntryID, AuthMethod: AuthMethod(rec.AuthMethod),
		Scopes: rec.Scopes, Audiences: rec.Audiences, Description: rec.Description,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Version: rec.Version,
	}, keys: make(map[string]*jose.JSONWebKey, len(rec.Keys))}
	for _, s := range rec.Secrets {
		if len(s.Hash) != 32 {
			return nil, fmt.Errorf("stored client %s: secret %s has a %d-byte hash", rec.ID, s.ID, len(s.Hash))
		}
		c.Secrets = append(c.Secrets, SecretInfo{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
		c.hashes = append(c.hashes, secretHash{hash: [32]byte(s.Hash), expires: s.ExpiresAt})
	}
	for _, k := range rec.Keys {
		jwk, _, err := parseClientKey(k.JWK)
		if err != nil {
			return nil, fmt.Errorf("stored client %s: key %s: %w", rec.ID, k.KeyID, err)
		}
		c.Keys = append(c.Keys, KeyInfo{KeyID: k.KeyID, JWK: k.JWK, CreatedAt: k.CreatedAt})
		c.keys[k.KeyID] = jwk
	}
	return c, nil
}
