package ca

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CA is the certificate authority of one trust domain. It is safe for
// concurrent use: minting reads an immutable snapshot of the keys, while
// Rotate and Reload replace the snapshot one at a time.
type CA struct {
	cfg Config
	td  spiffeid.TrustDomain

	mu  sync.Mutex // serialises Rotate and Reload (journal readers/writers)
	cur atomic.Pointer[state]
}

// New returns a CA for cfg.TrustDomain. It validates cfg, loads the journal
// from cfg.Journal and runs one rotation step, which creates and activates
// the first key slot when the journal is empty (recording
// "ca.key.activated") and replaces keys that expired while no replica ran.
// It returns an error if cfg is invalid, if the journal cannot be read or
// written, if it wraps [ErrJournal] (another trust domain, corrupt slots, or
// keys that cfg.KEK cannot unseal), or if the Auditor fails.
func New(ctx context.Context, cfg Config) (*CA, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &CA{cfg: cfg, td: cfg.TrustDomain}
	c.cur.Store(c.buildState(nil, 0, "", 0))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reloadLocked(ctx); err != nil {
		return nil, err
	}
	if err := c.rotateLocked(ctx); err != nil {
		return nil, err
	}
	st := c.cur.Load()
	if st.active == nil {
		return nil, fmt.Errorf("ca: no active key after start: %w", ErrUnavailable)
	}
	c.cfg.Logger.InfoContext(ctx, "ca ready", "trust_domain", c.td.Name(), "active", st.active,
		"upstream", c.cfg.Upstream != nil, "bundle_sequence", st.seq)
	return c, nil
}

// TrustDomain returns the trust domain the CA issues for.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// Reload re-reads the journal, picking up changes another replica made. It
// returns an error if the journal cannot be read or is invalid (wrapping
// [ErrJournal]); the CA then keeps its current keys.
func (c *CA) Reload(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked(ctx)
}

func (c *CA) reloadLocked(ctx context.Context) error {
	cur := c.cur.Load()
	next, err := c.readJournal(ctx)
	if err != nil {
		return err
	}
	switch {
	case next.version == cur.version:
		return nil
	case next.version == 0:
		return fmt.Errorf("%w: journal %q disappeared from the store", ErrJournal, journalBlob)
	}
	c.publish(next)
	return nil
}

// publish makes next the current state and wakes Changed waiters.
func (c *CA) publish(next *state) {
	if prev := c.cur.Swap(next); prev != nil {
		close(prev.changed)
	}
}

// errNoActive is returned when a snapshot has no signing slot.
var errNoActive = errors.New("no active key slot")
