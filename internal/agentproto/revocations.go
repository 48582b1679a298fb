package agentproto

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/kith-dev/kith/internal/signeddoc"
)

// RevocationsType is the JWS header "typ" of a signed [RevocationBatch].
const RevocationsType = "kith-revocations+jwt"

// RevocationBatch is the signed payload of the sync Message.Revocations.
type RevocationBatch struct {
	// Revision is the revocation-set revision after this batch; the agent
	// sends it back as ?revocations= when it reconnects.
	Revision int64 `json:"revision"`
	// Full says Entries is the whole set.
	Full bool `json:"full,omitempty"`
	// Entries are the revocations written since the agent's revision.
	Entries []Revocation `json:"entries"`
	// IssuedAt is when the server signed the batch.
	IssuedAt time.Time `json:"iat"`
}

// Revocation is one revocation set entry (see package revocation): every
// credential of Kind and Value issued at or before RevokedAt is revoked.
type Revocation struct {
	// Kind is "jti", "client_id", "x509_serial" or "spiffe_id".
	Kind      string    `json:"kind"`
	Value     string    `json:"value"`
	RevokedAt time.Time `json:"revoked_at"`
	// ExpiresAt is when every credential it covers has expired and the
	// entry may be forgotten; zero means never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	Revision  int64     `json:"revision"`
}

// VerifyRevocations checks the signature of a sync Message.Revocations
// against the JWT authorities of the trust domain's bundle and returns the
// batch. It returns an error wrapping [signeddoc.ErrDocument] for a JWS
// that does not verify, or a decoding error for a payload that is not a
// [RevocationBatch].
func VerifyRevocations(jws string, bundle *jwtbundle.Bundle) (*RevocationBatch, error) {
	payload, err := signeddoc.Verify(jws, RevocationsType, bundle)
	if err != nil {
		return nil, err
	}
	var b RevocationBatch
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, fmt.Errorf("sync: revocation batch: %w", err)
	}
	return &b, nil
}
