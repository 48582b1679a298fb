package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kith-dev/kith/internal/authn"
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

// audience is the aud claim: one string or an array of strings (it is
// written by appendJSON, and read by package authn).
type audience = authn.Audience

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

// maxVerified bounds the verified-token cache.
const maxVerified = 10_000

// newTokenVerifier returns the verifier of the service's own access
// tokens, for introspection, revocation and token exchange: the ES256
// signature by a published key, typ at+jwt, the issuer, jti, sub,
// client_id and exp, and the lifetime (exp exactly, iat with clockSkew);
// any audience, since the service introspects tokens for every resource.
// It remembers the claims of the tokens it verified, so that introspecting
// a token again (a resource server introspects each call's token) skips
// the P-256 verification, the dearest step; expiry is checked on every
// use, and a remembered token is verified again once its signing key is no
// longer published.
func newTokenVerifier(cfg Config, keys *keyring, revs authn.RevocationChecker) (*authn.TokenVerifier, error) {
	return authn.NewTokenVerifier(authn.TokenConfig{
		Issuer: cfg.Issuer, Keys: publishedKeys{keys}, Revocations: revs, IssuedAtLeeway: clockSkew,
		MaxCacheEntries: maxVerified, KeyPublished: func(kid string) bool { return keys.publicKey(kid) != nil },
	})
}

// publishedKeys are the keys the service publishes, as the token
// verifier's KeySource.
type publishedKeys struct{ k *keyring }

// Key returns the published key kid, or an error wrapping
// authn.ErrUnknownKey.
func (p publishedKeys) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	if pub := p.k.publicKey(kid); pub != nil {
		return pub, nil
	}
	return nil, fmt.Errorf("%w: %q", authn.ErrUnknownKey, truncate(kid))
}

// notOurs reports whether err refuses a token as not a valid, unexpired
// access token of this service, rather than failing to check it.
func notOurs(err error) bool {
	return errors.Is(err, authn.ErrInvalidToken) || errors.Is(err, authn.ErrUnknownKey) || errors.Is(err, authn.ErrTokenExpired)
}

// actorOf returns the act claim of a verified delegation chain.
func actorOf(a *authn.Actor) *actor {
	if a == nil {
		return nil
	}
	return &actor{Subject: a.Subject, ClientID: a.ClientID, Act: actorOf(a.Actor)}
}

// confirmationOf returns the cnf claim of verified claims, nil for a
// bearer token.
func confirmationOf(c *authn.Claims) *confirmation {
	if c.CertThumbprint == "" && c.DPoPThumbprint == "" {
		return nil
	}
	return &confirmation{X5T: c.CertThumbprint, JKT: c.DPoPThumbprint}
}

// clockSkew is the clock difference tolerated between Kith and its
// clients when checking iat, nbf and exp.
const clockSkew = time.Minute
