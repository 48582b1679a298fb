package api

import (
	"encoding/json"
	"time"
)

// Client is an OAuth client as the admin API shows it: never with a
// secret, only with facts about its secrets.
type Client struct {
	ID string `json:"id"`
	// EntryID is the registry entry the client acts for; its tokens are
	// about the entry's SPIFFE ID.
	EntryID string `json:"entry_id"`
	// AuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt, jwt_svid or tls_client_auth.
	AuthMethod string `json:"auth_method"`
	// Scopes are the scopes the client may be granted, within the entry's
	// max scopes.
	Scopes []string `json:"scopes,omitempty"`
	// Audiences are the resources the client may obtain tokens for.
	Audiences   []string           `json:"audiences"`
	Description string             `json:"description,omitempty"`
	Secrets     []ClientSecretInfo `json:"secrets,omitempty"`
	Keys        []ClientKey        `json:"keys,omitempty"`
	CreatedAt   time.Time          `json:"created_at,omitzero"`
	UpdatedAt   time.Time          `json:"updated_at,omitzero"`
	Version     int64              `json:"version,omitempty"`
}

// ClientSecretInfo describes one of a client's secrets.
type ClientSecretInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// ExpiresAt is when a rotated-out secret stops working; zero for the
	// current secret.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// ClientKey is a public key of a private_key_jwt client.
type ClientKey struct {
	KeyID     string          `json:"kid"`
	JWK       json.RawMessage `json:"jwk"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
}

// ClientCreate asks for a new OAuth client.
type ClientCreate struct {
	EntryID string `json:"entry_id"`
	// AuthMethod defaults to client_secret_basic.
	AuthMethod  string            `json:"auth_method,omitempty"`
	Scopes      []string          `json:"scopes,omitempty"`
	Audiences   []string          `json:"audiences"`
	Description string            `json:"description,omitempty"`
	Keys        []json.RawMessage `json:"keys,omitempty"`
}

// ClientSecret is the answer to creating a client or rotating its secret:
// the client and, for a secret-based client, its new secret, which the
// server shows this once and never stores.
type ClientSecret struct {
	Client Client `json:"client"`
	Secret string `json:"secret,omitempty"`
}

// ClientList is one page of clients.
type ClientList struct {
	Clients []Client `json:"clients"`
	// Next is the cursor of the following page ("after"); empty on the
	// last page.
	Next string `json:"next,omitempty"`
}

// SecretRotate asks for a client's new secret.
type SecretRotate struct {
	// Overlap is how long the secrets the client holds keep working; nil
	// means one hour, zero ends them at once.
	Overlap *Duration `json:"overlap,omitempty"`
}

// ClientTokensRevoke asks to revoke every token issued to a client so far.
type ClientTokensRevoke struct {
	Reason string `json:"reason,omitempty"`
}
