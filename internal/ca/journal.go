package ca

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

// journalBlob is the name of the journal in the JournalStore.
const journalBlob = "ca/journal"

// journalFormat is the version of the journal encoding.
const journalFormat = 1

// journalDoc is the persisted CA state. Private keys appear only sealed.
type journalDoc struct {
	Format      int    `json:"format"`
	TrustDomain string `json:"trust_domain"`
	// BundleSequence is the spiffe_sequence of the bundle; it grows by one
	// whenever BundleDigest changes.
	BundleSequence uint64 `json:"bundle_sequence"`
	// BundleDigest is a hash of the bundle's authorities (see digestOf).
	BundleDigest string       `json:"bundle_digest"`
	Slots        []slotRecord `json:"slots"`
}

// slotRecord is the persisted form of a key slot.
type slotRecord struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// CACert is the slot's CA certificate (DER).
	CACert []byte `json:"ca_cert"`
	// Chain holds the upstream certificates (DER) above CACert, without
	// the upstream roots; empty for a self-signed CA.
	Chain [][]byte `json:"chain,omitempty"`
	// SealedCAKey is the PKCS#8 CA key sealed with the KEK.
	SealedCAKey []byte `json:"sealed_ca_key"`
	// SealedJWTKey is the PKCS#8 ES256 JWT key sealed with the KEK.
	SealedJWTKey []byte `json:"sealed_jwt_key"`
	// JWTPublicKey is the PKIX public half of the JWT key.
	JWTPublicKey []byte    `json:"jwt_public_key"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
}

// readJournal reads and decodes the journal; a missing journal gives an
// empty state of version 0.
func (c *CA) readJournal(ctx context.Context) (*state, error) {
	data, version, err := c.cfg.Journal.GetBlob(ctx, journalBlob)
	if errors.Is(err, store.ErrNotFound) {
		return c.buildState(nil, 0, "", 0), nil
	}
	if err != nil {
		return nil, fmt.Errorf("ca: read journal: %w", err)
	}
	return c.decodeJournal(data, version)
}

func (c *CA) decodeJournal(data []byte, version int64) (*state, error) {
	var doc journalDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	if doc.Format != journalFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrJournal, doc.Format, journalFormat)
	}
	if doc.TrustDomain != c.td.Name() {
		return nil, fmt.Errorf("%w: journal is for trust domain %q, not %q", ErrJournal, doc.TrustDomain, c.td.Name())
	}
	seen := make(map[string]bool)
	count := make(map[slotStatus]int)
	slots := make([]*slot, 0, len(doc.Slots))
	for _, rec := range doc.Slots {
		if seen[rec.ID] {
			return nil, fmt.Errorf("%w: duplicate slot %q", ErrJournal, rec.ID)
		}
		seen[rec.ID] = true
		s, err := c.openSlot(rec)
		if err != nil {
			return nil, err
		}
		count[s.status]++
		slots = append(slots, s)
	}
	if count[statusActive] > 1 || count[statusPrepared] > 1 {
		return nil, fmt.Errorf("%w: %d active and %d prepared slots", ErrJournal, count[statusActive], count[statusPrepared])
	}
	return c.buildState(slots, doc.BundleSequence, doc.BundleDigest, version), nil
}

func (c *CA) encodeJournal(st *state) ([]byte, error) {
	doc := journalDoc{
		Format:         journalFormat,
		TrustDomain:    c.td.Name(),
		BundleSequence: st.seq,
		BundleDigest:   st.digest,
		Slots:          make([]slotRecord, 0, len(st.slots)),
	}
	for _, s := range st.slots {
		doc.Slots = append(doc.Slots, s.rec)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("ca: encode journal: %w", err)
	}
	return data, nil
}
