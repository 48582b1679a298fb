package synchub

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/store"
)

// readRevocations reads the revocations written after revision after and
// up to upTo, leaving out those already expired.
func (h *Hub) readRevocations(ctx context.Context, after, upTo int64) ([]agentproto.Revocation, error) {
	out := []agentproto.Revocation{}
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
				out = append(out, agentproto.Revocation{Kind: r.Kind, Value: r.Value, RevokedAt: r.RevokedAt,
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
func (h *Hub) signBatch(b agentproto.RevocationBatch) (string, error) {
	b.IssuedAt = h.cfg.Clock().UTC()
	payload, err := json.Marshal(b)
	if err != nil {
		return "", fmt.Errorf("sync: encode revocation batch: %w", err)
	}
	jws, err := h.cfg.Signer.SignDocument(agentproto.RevocationsType, payload)
	if err != nil {
		return "", fmt.Errorf("sync: sign revocation batch: %w", err)
	}
	return jws, nil
}
