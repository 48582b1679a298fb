package sync

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/sync/wire"
)

// RevocationsType is the JWS header "typ" of Message.Revocations; see
// [wire.RevocationsType].
const RevocationsType = wire.RevocationsType

// VerifyRevocations checks the signature of Message.Revocations against
// the JWT authorities of the trust domain's bundle and returns the batch;
// see [wire.VerifyRevocations]. It returns an error wrapping
// ca.ErrDocument for a JWS that does not verify, or a decoding error for a
// payload that is not a [RevocationBatch].
func VerifyRevocations(jws string, bundle *jwtbundle.Bundle) (*RevocationBatch, error) {
	return wire.VerifyRevocations(jws, bundle)
}

// readRevocations reads the revocations written after revision after and
// up to upTo, leaving out those already expired.
func (h *Hub) readRevocations(ctx context.Context, after, upTo int64) ([]Revocation, error) {
	out := []Revocation{}
	now := h.cfg.Clock()
	for after < upTo {
		page, err := h.cfg.Revocations.ListRevocations(ctx, store.RevocationFilter{After: after, Limit: pageLimit})
		if err != nil {
			return nil, fmt.Errorf("sync: read revocations: %w", err)
		}
		for _, r := range page {
			if r.Revision > upTo {
				return out, nil
			}
			if r.ExpiresAt.IsZero() || r.ExpiresAt.After(now) {
				out = append(out, Revocation{Kind: r.Kind, Value: r.Value, RevokedAt: r.RevokedAt,
					ExpiresAt: r.ExpiresAt, Reason: r.Reason, Revision: r.Revision})
			}
		}
		if len(page) < pageLimit {
			break
		}
		after = page[len(page)-1].Revision
	}
	return out, nil
}

// signBatch stamps b with the time and signs it.
func (h *Hub) signBatch(b RevocationBatch) (string, error) {
	b.IssuedAt = h.cfg.Clock().UTC()
	payload, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("sync: encode revocation batch: %w", err)
	}
	jws, err := h.cfg.Signer.SignDocument(RevocationsType, payload)
	if err != nil {
		return "", fmt.Errorf("sync: sign revocation batch: %w", err)
	}
	return jws, nil
}
