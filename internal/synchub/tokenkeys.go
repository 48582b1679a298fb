package synchub

import (
	"bytes"
	"encoding/json"

	"github.com/kith-dev/kith/internal/agentproto"
)

// TokenKeySource is the token service's published signing keys;
// *oauth.Service implements it. TokenKeys returns the public JWKS exactly
// as /oauth2/jwks serves it, nil while there is none, and a version that
// changes whenever the key set may have changed.
type TokenKeySource interface {
	TokenKeys() (jwks []byte, version int64)
	Issuer() string
}

// tokenKeys is the token service's key set as fanned out.
type tokenKeys struct {
	version int64
	jwks    json.RawMessage
	issuer  string
}

// readTokenKeys returns the current key set and whether it differs from
// held. It reads memory only: the hub polls it every round.
func (h *Hub) readTokenKeys(held tokenKeys) (tokenKeys, bool) {
	if h.cfg.TokenKeys == nil {
		return held, false
	}
	jwks, version := h.cfg.TokenKeys.TokenKeys()
	if version == held.version && held.jwks != nil {
		return held, false
	}
	if len(jwks) == 0 {
		return held, false
	}
	cur := tokenKeys{version: version, jwks: jwks, issuer: h.cfg.TokenKeys.Issuer()}
	return cur, !bytes.Equal(jwks, held.jwks) || cur.issuer != held.issuer
}

// fill sets the key set's fields of m, if there is a key set.
func (k tokenKeys) fill(m *agentproto.Message) {
	if k.jwks != nil {
		m.TokenKeys, m.TokenIssuer = k.jwks, k.issuer
	}
}
