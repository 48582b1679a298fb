package ca

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// state is an immutable snapshot of the CA: its slots as last read from or
// written to the journal, and the bundle they make. Minting reads a state
// without locking; Rotate and Reload replace it.
type state struct {
	version  int64 // journal version; 0 if none is stored
	seq      uint64
	digest   string
	slots    []*slot
	active   *slot
	prepared *slot
	bundle   *spiffebundle.Bundle
	changed  chan struct{} // closed when this state is replaced
}

// buildState makes the snapshot for slots. seq and digest are the bundle
// sequence and the digest it was assigned for.
func (c *CA) buildState(slots []*slot, seq uint64, digest string, version int64) *state {
	slots = slices.Clone(slots)
	sort.SliceStable(slots, func(i, j int) bool { return slots[i].notBefore().Before(slots[j].notBefore()) })
	st := &state{version: version, seq: seq, digest: digest, slots: slots, changed: make(chan struct{})}
	for _, s := range slots {
		switch s.status {
		case statusActive:
			st.active = s
		case statusPrepared:
			st.prepared = s
		}
	}
	roots, jwtKeys := c.bundleContent(slots)
	b := spiffebundle.New(c.td)
	b.SetX509Authorities(roots)
	b.SetJWTAuthorities(jwtKeys)
	b.SetSequenceNumber(seq)
	b.SetRefreshHint(c.cfg.RefreshHint)
	st.bundle = b
	return st
}

// bundleContent returns the authorities the bundle publishes for slots:
// the upstream roots or, for a self-signed CA, the CA certificate of every
// slot in the journal; and the JWT key of every slot. A slot stays in the
// journal, and so in the bundle, until Rotate retires it after its NotAfter,
// so that replicas with the same journal publish the same bundle for the
// same sequence number.
func (c *CA) bundleContent(slots []*slot) ([]*x509.Certificate, map[string]crypto.PublicKey) {
	var roots []*x509.Certificate
	if c.cfg.Upstream != nil {
		roots = slices.Clone(c.cfg.Upstream.Roots)
	}
	jwtKeys := make(map[string]crypto.PublicKey, len(slots))
	for _, s := range slots {
		if c.cfg.Upstream == nil && s.root {
			roots = append(roots, s.cert)
		}
		jwtKeys[string(s.id)] = s.jwtPublic
	}
	return roots, jwtKeys
}

// digestOf hashes bundle authorities independently of their order.
func digestOf(roots []*x509.Certificate, jwtKeys map[string]crypto.PublicKey) string {
	var items []string
	for _, r := range roots {
		items = append(items, "x509:"+hex.EncodeToString(r.Raw))
	}
	for kid, pub := range jwtKeys {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			der = nil // unreachable: keys come from parsed PKIX
		}
		items = append(items, "jwt:"+kid+":"+hex.EncodeToString(der))
	}
	sort.Strings(items)
	h := sha256.Sum256([]byte(strings.Join(items, "\n")))
	return hex.EncodeToString(h[:])
}

// Bundle returns a copy of the trust bundle of the CA's trust domain: the
// X.509 roots (the upstream roots, or the CA certificates of all slots), the
// JWT key of every slot by key ID, the sequence number, which grows whenever
// the authorities change, and the refresh hint. Bundle.Marshal gives the
// SPIFFE bundle JSON. It never fails.
func (c *CA) Bundle() *spiffebundle.Bundle {
	return c.cur.Load().bundle.Clone()
}

// X509Authorities returns the X.509 roots of the bundle. The slice is a
// copy; the certificates must not be modified.
func (c *CA) X509Authorities() []*x509.Certificate {
	return c.cur.Load().bundle.X509Authorities()
}

// Changed returns a channel that is closed the next time the CA's state
// (keys, bundle) changes through Rotate or Reload. Call it again after it
// fires to wait for the following change.
func (c *CA) Changed() <-chan struct{} {
	return c.cur.Load().changed
}
