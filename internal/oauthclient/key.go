package oauthclient

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivateKey reads the first private key of pemBytes, in PKCS #8,
// SEC 1 (EC PRIVATE KEY) or PKCS #1 (RSA PRIVATE KEY) form, for
// [Config.Key] or [Config.DPoPKey]. It returns an error if there is no
// private key block or the key cannot sign.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("oauth: no PEM private key")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("oauth: private key: %w", err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("oauth: a %T cannot sign", key)
		}
		if _, err := algorithmFor(s.Public()); err != nil {
			return nil, err
		}
		return s, nil
	}
}
