// Package signeddoc verifies Kith's server-signed documents: compact JWS
// signed with ES256 by one of the trust domain's JWT authorities, whose
// header "typ" names the kind of document. It needs nothing but the trust
// bundle and does no I/O, so that agents, proxies and verifiers link it
// without the CA.
//
// It does not sign: package ca does, with its active key (CA.SignDocument),
// and it owns no key material.
package signeddoc

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
// that [Verify] parses.
const MaxDocumentSize = 32 << 20

// Verify checks a signed document: a compact JWS of at most
// [MaxDocumentSize] bytes, signed with ES256 by a JWT authority of bundle
// named by its "kid", whose header "typ" is typ. It returns the payload.
//
// It returns an error wrapping [ErrDocument] when any check fails.
func Verify(jws string, typ string, bundle *jwtbundle.Bundle) ([]byte, error) {
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
