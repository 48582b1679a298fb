package agent

import (
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/revocation"
)

// errBadRevocations marks a revocation batch that does not verify.
var errBadRevocations = errors.New("revocation batch does not verify")

// verifyRevocations verifies jws, a batch the server signed with a JWT
// authority of b (see agentproto.VerifyRevocations), and checks its revision. It
// returns an error wrapping errBadRevocations otherwise.
func verifyRevocations(jws string, b *jwtbundle.Bundle) (*agentproto.RevocationBatch, error) {
	batch, err := agentproto.VerifyRevocations(jws, b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRevocations, err)
	}
	if batch.Revision < 0 {
		return nil, fmt.Errorf("%w: negative revision", errBadRevocations)
	}
	return batch, nil
}

// revocationEntries converts wire revocations to set entries, skipping
// those of unknown kinds (a newer server's) and returning how many it
// skipped.
func revocationEntries(in []agentproto.Revocation) ([]revocation.Entry, int) {
	out := make([]revocation.Entry, 0, len(in))
	skipped := 0
	for _, r := range in {
		k, err := revocation.ParseKind(r.Kind)
		if err != nil {
			skipped++
			continue
		}
		out = append(out, revocation.Entry{Kind: k, Value: r.Value, RevokedAt: r.RevokedAt,
			ExpiresAt: r.ExpiresAt, Reason: r.Reason, Revision: r.Revision})
	}
	return out, skipped
}

// wireRevocations converts set entries back to the wire form, to persist
// them.
func wireRevocations(in []revocation.Entry) []agentproto.Revocation {
	out := make([]agentproto.Revocation, 0, len(in))
	for _, e := range in {
		out = append(out, agentproto.Revocation{Kind: e.Kind.String(), Value: e.Value, RevokedAt: e.RevokedAt,
			ExpiresAt: e.ExpiresAt, Reason: e.Reason, Revision: e.Revision})
	}
	return out
}
