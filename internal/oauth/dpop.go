package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/kith-dev/kith/internal/authn"
)

// dpopProof is a DPoP proof whose signature verified with its own key;
// its JKT binds the token issued with it.
type dpopProof = authn.DPoPProof

// checkDPoP verifies the request's DPoP proof for the token endpoint, if
// it sent one: nil without a DPoP header. The proof's signature, htm, htu
// and iat (within the configured window) are checked by package authn,
// then the nonce if the service requires one, then its replay in the
// share of client, the authenticated client, in the replay cache. Errors
// are invalid_dpop_proof or use_dpop_nonce, a 429 error when the
// client's share is full, or errReplayFull.
func (s *Service) checkDPoP(r *http.Request, client ClientID, now time.Time) (*dpopProof, error) {
	hs := r.Header.Values("DPoP")
	switch len(hs) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalidDPoP(errors.New("several DPoP headers"))
	}
	p, err := authn.ParseDPoPProof(hs[0])
	if err != nil {
		return nil, invalidDPoP(err)
	}
	if err := p.Check(authn.DPoPRequest{Method: r.Method, URLs: s.tokenURLs}, now, s.cfg.DPoPWindow); err != nil {
		return nil, invalidDPoP(err)
	}
	if s.cfg.RequireDPoPNonce && !s.nonces.valid(p.Nonce, now) {
		return nil, &protocolError{code: codeUseDPoPNonce, desc: "use the DPoP-Nonce this response carries",
			dpopNonce: s.nonces.current(now)}
	}
	if err := p.FirstUse(dpopReplay{s.replay, string(client)}, now, s.cfg.DPoPWindow); err != nil {
		if errors.Is(err, authn.ErrInvalidDPoPProof) {
			return nil, invalidDPoP(err)
		}
		return nil, err
	}
	return p, nil
}

// dpopReplay is the replay cache as authn's ReplayStore of the DPoP
// proofs of one client, in its share.
type dpopReplay struct {
	c     *replayCache
	owner string
}

// FirstUse implements authn.ReplayStore; its error is the 429 of a full
// share or errReplayFull.
func (d dpopReplay) FirstUse(key string, expires, now time.Time) (bool, error) {
	return d.c.firstUse(d.owner, key, expires, now)
}

// nonceWindow is how long one DPoP nonce is handed out; a nonce is
// accepted for three windows.
const nonceWindow = 30 * time.Second

// nonceSource makes and checks DPoP nonces without state: a nonce is a
// window number and its HMAC under a key shared by all replicas.
type nonceSource struct {
	keys  *keyring
	clock func() time.Time
}

func newNonceSource(keys *keyring, clock func() time.Time) *nonceSource {
	return &nonceSource{keys: keys, clock: clock}
}

func (n *nonceSource) mac(window uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], window)
	m := hmac.New(sha256.New, n.keys.nonceKey())
	m.Write([]byte("kith dpop nonce\x00"))
	m.Write(b[:])
	return append(b[:], m.Sum(nil)[:16]...)
}

// current returns the nonce to hand out at now.
func (n *nonceSource) current(now time.Time) string {
	return base64.RawURLEncoding.EncodeToString(n.mac(uint64(now.Unix()) / uint64(nonceWindow/time.Second)))
}

// valid reports whether nonce was handed out in the current window or
// one of the two before it.
func (n *nonceSource) valid(nonce string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	w := binary.BigEndian.Uint64(b[:8])
	cur := uint64(now.Unix()) / uint64(nonceWindow/time.Second)
	if w > cur || cur-w > 2 {
		return false
	}
	return hmac.Equal(b, n.mac(w))
}
