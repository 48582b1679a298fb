package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// x509Response builds the FetchX509SVID answer for recs, with the own
// bundle and every federated bundle, and a fingerprint of its content to
// tell whether it changed since the last one sent.
func (s *workloadServer) x509Response(recs []*x509Record) (*workload.X509SVIDResponse, string) {
	own, fed := s.a.state.bundles()
	ownDER := bundleDER(own)
	resp := &workload.X509SVIDResponse{FederatedBundles: map[string][]byte{}}
	for td, b := range fed {
		resp.FederatedBundles[td.IDString()] = bundleDER(b)
	}
	h := sha256.New()
	h.Write(ownDER)
	h.Write([]byte(bundleMapFingerprint(resp.FederatedBundles)))
	for _, r := range recs {
		resp.Svids = append(resp.Svids, &workload.X509SVID{
			SpiffeId:    r.svid.ID.String(),
			X509Svid:    r.chainDER,
			X509SvidKey: r.keyDER,
			Bundle:      ownDER,
		})
		h.Write(r.leaf().Raw)
	}
	return resp, hex.EncodeToString(h.Sum(nil))
}

// bundleDER returns the X.509 authorities of b as concatenated DER.
func bundleDER(b *spiffebundle.Bundle) []byte {
	if b == nil {
		return nil
	}
	var buf bytes.Buffer
	for _, c := range b.X509Authorities() {
		buf.Write(c.Raw)
	}
	return buf.Bytes()
}

// x509BundleMap returns the X.509 bundles keyed by trust domain SPIFFE ID.
func x509BundleMap(own *spiffebundle.Bundle, fed map[spiffeid.TrustDomain]*spiffebundle.Bundle) map[string][]byte {
	out := map[string][]byte{own.TrustDomain().IDString(): bundleDER(own)}
	for td, b := range fed {
		out[td.IDString()] = bundleDER(b)
	}
	return out
}

// bundleMapFingerprint hashes a map of bundles in key order.
func bundleMapFingerprint(m map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(m[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entryIDs returns the IDs of entries, in order.
func entryIDs(entries []agentproto.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.ID
	}
	return out
}

// equalStrings reports whether a and b hold the same strings in order.
func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
