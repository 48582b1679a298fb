package ca

import (
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
)

// ErrDocument means a signed document is malformed, of another type, signed
// by a key the bundle does not hold, or its signature does not verify.
var ErrDocument = errors.New("ca: invalid signed document")

// MaxDocumentSize is the largest signed document, in bytes of compact JWS,
// that VerifyDocument parses.
const MaxDocumentSize = 32 << 20

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
// agents and verifiers call it.
//
// It returns an error wrapping [ErrDocument] when any check fails.
func VerifyDocument(jws string, typ string, bundle *jwtbundle.Bundle) ([]byte, error) {
	if len(jws) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrDocument, len(jws), MaxDocumentSize)
	}
	if bundle == nil {
		return nil, fmt.Errorf("%w: no bundle", ErrDocument)
	}
	obj, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	if len(obj.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrDocument, len(obj.Signatures))
	}
	h := obj.Signatures[0].Protected
	if got, _ := h.ExtraHeaders[jose.HeaderType].(string); got != typ {
		return nil, fmt.Errorf("%w: type %q, want %q", ErrDocument, got, typ)
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: no key ID", ErrDocument)
	}
	key, ok := bundle.FindJWTAuthority(h.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w: key %q is not in the bundle of %s", ErrDocument, h.KeyID, bundle.TrustDomain())
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDocument, err)
	}
	return payload, nil
}
