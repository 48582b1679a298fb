package authn

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey is returned (wrapped) by a [KeySource] for a key ID it
// does not know. Its text is the SDK's, which returns it as it is.
var ErrUnknownKey = errors.New("oauth: unknown signing key")

// KeySource gives the token service's signing keys by key ID. It returns
// an error wrapping [ErrUnknownKey] for a key ID it does not know; any
// other error (a failed fetch) means the keys could not be read.
// Implementations must be safe for concurrent use.
type KeySource interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// StaticKeys is a [KeySource] holding a fixed JWKS.
type StaticKeys jose.JSONWebKeySet

// Key returns the public key of s with key ID kid, or an error wrapping
// [ErrUnknownKey].
func (s StaticKeys) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	for _, k := range s.Keys {
		if k.KeyID == kid && k.IsPublic() {
			return k.Key, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
}
