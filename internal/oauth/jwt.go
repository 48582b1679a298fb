package oauth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// accessTokenType is the JWS typ of access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// accessClaims are the claims of an access token (RFC 9068 §2.2, with
// cnf from RFC 8705 and RFC 9449 and act from RFC 8693).
type accessClaims struct {
	Issuer   string        `json:"iss"`
	Subject  string        `json:"sub"`
	Audience audience      `json:"aud"`
	Expiry   int64         `json:"exp"`
	IssuedAt int64         `json:"iat"`
	JTI      string        `json:"jti"`
	ClientID string        `json:"client_id"`
	Scope    string        `json:"scope,omitempty"`
	ACR      string        `json:"acr,omitempty"`
	Cnf      *confirmation `json:"cnf,omitempty"`
	Act      *actor        `json:"act,omitempty"`
}

// confirmation is the cnf claim: the certificate or DPoP key a token is
// bound to.
type confirmation struct {
	X5T string `json:"x5t#S256,omitempty"`
	JKT string `json:"jkt,omitempty"`
}

// actor is the act claim of a delegated token (RFC 8693 §4.1): who acts,
// and whom that actor acted for, nested.
type actor struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id,omitempty"`
	Act      *actor `json:"act,omitempty"`
}

// depth is the number of actors in the chain.
func (a *actor) depth() int {
	n := 0
	for ; a != nil; a = a.Act {
		n++
	}
	return n
}

// audience is the aud claim: one string or an array of strings.
type audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = many
	return nil
}

// appendJSON appends the claims as JSON: the same document encoding/json
// would write, without reflection, since it runs for every token.
func (c *accessClaims) appendJSON(b []byte) []byte {
	b = append(b, `{"iss":`...)
	b = appendString(b, c.Issuer)
	b = append(b, `,"sub":`...)
	b = appendString(b, c.Subject)
	b = append(b, `,"aud":`...)
	if len(c.Audience) == 1 {
		b = appendString(b, c.Audience[0])
	} else {
		b = append(b, '[')
		for i, a := range c.Audience {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a)
		}
		b = append(b, ']')
	}
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"jti":`...)
	b = appendString(b, c.JTI)
	b = append(b, `,"client_id":`...)
	b = appendString(b, c.ClientID)
	if c.Scope != "" {
		b = append(b, `,"scope":`...)
		b = appendString(b, c.Scope)
	}
	if c.ACR != "" {
		b = append(b, `,"acr":`...)
		b = appendString(b, c.ACR)
	}
	if c.Cnf != nil {
		b = append(b, `,"cnf":{`...)
		sep := ""
		if c.Cnf.X5T != "" {
			b = append(b, `"x5t#S256":`...)
			b = appendString(b, c.Cnf.X5T)
			sep = ","
		}
		if c.Cnf.JKT != "" {
			b = append(b, sep+`"jkt":`...)
			b = appendString(b, c.Cnf.JKT)
		}
		b = append(b, '}')
	}
	if c.Act != nil {
		b = append(b, `,"act":`...)
		b = c.Act.appendJSON(b)
	}
	return append(b, '}')
}

func (a *actor) appendJSON(b []byte) []byte {
	b = append(b, `{"sub":`...)
	b = appendString(b, a.Subject)
	if a.ClientID != "" {
		b = append(b, `,"client_id":`...)
		b = appendString(b, a.ClientID)
	}
	if a.Act != nil {
		b = append(b, `,"act":`...)
		b = a.Act.appendJSON(b)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// sign returns the compact JWS of payload under k: header.payload.signature
// with an ES256 signature in the fixed-size r||s form of RFC 7518 §3.4.
func (k *signingKey) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(k.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(64))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// newJTI returns 128 random bits in base64url.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// maxTokenBytes bounds the access tokens the service parses.
const maxTokenBytes = 16 << 10

// errNotOurs reports a token that is not a valid access token of this
// server: malformed, of another type or issuer, or with a bad signature.
var errNotOurs = errors.New("not an access token of this server")

// parseAccessToken verifies raw as an access token of this service: its
// typ, its ES256 signature by a published key, its issuer, and that it is
// within its lifetime at now. It does not consult the revocation set.
func (s *Service) parseAccessToken(raw string, now time.Time) (*accessClaims, error) {
	if len(raw) > maxTokenBytes {
		return nil, fmt.Errorf("%w: too long", errNotOurs)
	}
	if c, ok := s.verified.get(raw, s.keys); ok {
		return checkAccessTimes(c, now)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: malformed", errNotOurs)
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != accessTokenType {
		return nil, fmt.Errorf("%w: typ %q", errNotOurs, truncate(typ))
	}
	pub := s.keys.publicKey(h.KeyID)
	if pub == nil {
		return nil, fmt.Errorf("%w: unknown kid", errNotOurs)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: bad signature", errNotOurs)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", errNotOurs, err)
	}
	switch {
	case c.Issuer != s.cfg.Issuer:
		return nil, fmt.Errorf("%w: issuer %q", errNotOurs, truncate(c.Issuer))
	case c.JTI == "" || c.ClientID == "" || c.Subject == "":
		return nil, fmt.Errorf("%w: missing claims", errNotOurs)
	}
	if _, err := checkAccessTimes(&c, now); err != nil {
		return nil, err
	}
	s.verified.put(raw, h.KeyID, &c)
	return &c, nil
}

// checkAccessTimes returns c if it is neither expired nor issued in the
// future at now.
func checkAccessTimes(c *accessClaims, now time.Time) (*accessClaims, error) {
	switch {
	case now.Unix() >= c.Expiry:
		return nil, errExpired
	case c.IssuedAt > now.Add(clockSkew).Unix():
		return nil, fmt.Errorf("%w: issued in the future", errNotOurs)
	}
	return c, nil
}

// maxVerified bounds the verified-token cache; a full cache is emptied.
const maxVerified = 10_000

// verifiedTokens remembers the claims of access tokens whose signature
// verified, keyed by the whole token, so that introspecting a token again
// (a resource server introspects each call's token) skips the P-256
// verification, the dearest step. Expiry is checked on every use, and an
// entry is ignored once its signing key is no longer published;
// revocation and client status are checked by the caller as always. The
// claims are shared: callers must not modify them.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	kid    string
	claims *accessClaims
}

// get returns the cached claims of raw if its key is still published.
func (v *verifiedTokens) get(raw string, keys *keyring) (*accessClaims, bool) {
	v.mu.RLock()
	e, ok := v.m[raw]
	v.mu.RUnlock()
	if !ok || keys.publicKey(e.kid) == nil {
		return nil, false
	}
	return e.claims, true
}

// put remembers the claims of raw, signed with kid.
func (v *verifiedTokens) put(raw, kid string, c *accessClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= maxVerified {
		v.m = make(map[string]verifiedToken)
	}
	v.m[raw] = verifiedToken{kid: kid, claims: c}
}

// errExpired reports a token past its exp.
var errExpired = errors.New("token expired")

// clockSkew is the clock difference tolerated between Kith and its
// clients when checking iat, nbf and exp.
const clockSkew = time.Minute
