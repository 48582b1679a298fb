package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/witness"
)

// WitnessConfig names a C2SP tlog-witness that cosigns the ledger's
// checkpoints.
type WitnessConfig struct {
	// URL is the witness's submission prefix; checkpoints go to
	// URL+"/add-checkpoint".
	URL string
	// VerifierKey is the witness's cosignature/v1 verifier key
	// ("name+hash+key"), as `kith witness` prints it.
	VerifierKey string
}

// ParseWitness parses "URL VKEY", the form of the --witness flag. It
// returns an error naming what is missing.
func ParseWitness(s string) (WitnessConfig, error) {
	url, vkey, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || url == "" || strings.TrimSpace(vkey) == "" {
		return WitnessConfig{}, fmt.Errorf("witness %q: want \"URL VERIFIER-KEY\"", s)
	}
	return WitnessConfig{URL: url, VerifierKey: strings.TrimSpace(vkey)}, nil
}

// buildWitnesses makes the ledger's witness clients from the configuration.
func buildWitnesses(cfgs []WitnessConfig) ([]ledger.Witness, error) {
	out := make([]ledger.Witness, 0, len(cfgs))
	for _, c := range cfgs {
		v, err := witness.NewVerifier(c.VerifierKey)
		if err != nil {
			return nil, fmt.Errorf("witness %s: verifier key: %w", c.URL, err)
		}
		cl, err := witness.NewClient(witness.ClientConfig{URL: c.URL, Verifier: v})
		if err != nil {
			return nil, fmt.Errorf("witness %s: %w", c.URL, err)
		}
		out = append(out, witnessAdapter{cl})
	}
	return out, nil
}

// witnessAdapter lets a witness client serve the ledger: the two packages
// each have their own conflict error (neither imports the other), and the
// ledger retries only on its own.
type witnessAdapter struct{ c *witness.Client }

func (w witnessAdapter) Name() string { return w.c.Name() }

// Verifier exposes the witness's cosignature verifier, which the ledger
// uses to check what it returns.
func (w witnessAdapter) Verifier() note.Verifier { return w.c.Verifier() }

func (w witnessAdapter) AddCheckpoint(ctx context.Context, oldSize uint64, proof [][]byte, cp []byte) ([]byte, error) {
	cosig, err := w.c.AddCheckpoint(ctx, oldSize, proof, cp)
	var ce *witness.ConflictError
	if errors.As(err, &ce) {
		return nil, &ledger.ConflictError{KnownSize: ce.KnownSize}
	}
	return cosig, err
}
