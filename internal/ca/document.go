package ca

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/kith-dev/kith/internal/signeddoc"
)

// ErrDocument means a signed document is malformed, of another type, signed
// by a key the bundle does not hold, or its signature does not verify. It
// is [signeddoc.ErrDocument].
var ErrDocument = signeddoc.ErrDocument

// MaxDocumentSize is the largest signed document, in bytes of compact JWS,
// that VerifyDocument parses.
const MaxDocumentSize = signeddoc.MaxDocumentSize

// SignDocument signs payload as a compact JWS with the active slot's ES256
// JWT key: the protected header carries alg "ES256", the slot's key ID as
// "kid" and typ as "typ", so that a document of one type cannot pass for
// another, nor for a JWT-SVID (typ "JWT"). Anyone holding the trust bundle
// verifies it with [VerifyDocument].
//
// It returns an error wrapping [ErrInvalidParams] for an empty typ or
// "JWT", [ErrUnavailable] if there is no active key or it has expired, and
// [ErrJournal] if the key cannot be unsealed.
func (c *CA) SignDocument(typ string, payload []byte) (string, error) {
	if typ == "" || typ == "JWT" {
		return "", fmt.Errorf("%w: document type %q", ErrInvalidParams, typ)
	}
	s := c.cur.Load().active
	if s == nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, errNoActive)
	}
	if now := c.cfg.Clock(); !s.notAfter().After(now) {
		return "", fmt.Errorf("%w: active key %s expired at %v", ErrUnavailable, s.id, s.notAfter())
	}
	// The slot keeps only a JWT signer with typ "JWT", so the key is
	// unsealed for each document. Documents are few (one per batch of
	// changes, not one per recipient), so the cost does not matter.
	key, err := c.openKey(s.rec.SealedJWTKey, s.id, purposeJWT)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: string(s.id)}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("ca: document signer: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("ca: sign document: %w", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("ca: serialize document: %w", err)
	}
	return out, nil
}

// VerifyDocument checks a document made by [CA.SignDocument]: a compact
// JWS of at most [MaxDocumentSize] bytes, signed with ES256 by a JWT
// authority of bundle named by its "kid", whose header "typ" is typ. It
// returns the payload. It does no I/O and needs nothing but the bundle, so
// agents and verifiers call it (or [signeddoc.Verify], which it calls, to
// avoid linking the CA).
//
// It returns an error wrapping [ErrDocument] when any check fails.
func VerifyDocument(jws string, typ string, bundle *jwtbundle.Bundle) ([]byte, error) {
	return signeddoc.Verify(jws, typ, bundle)
}
