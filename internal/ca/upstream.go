package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Upstream is an external authority that signs the CA's certificates, making
// the CA an intermediate. It holds a private key (through Signer), so it
// prints only its subject.
type Upstream struct {
	// Certificates is the upstream signing certificate first, then the
	// certificates that chain it towards Roots.
	Certificates []*x509.Certificate
	// Signer holds the private key of Certificates[0].
	Signer crypto.Signer
	// Roots are the trust anchors published as the X.509 authorities of
	// the trust bundle.
	Roots []*x509.Certificate
}

// String names the upstream signing certificate and never the key.
func (u *Upstream) String() string {
	if u == nil || len(u.Certificates) == 0 {
		return "Upstream(empty)"
	}
	return fmt.Sprintf("Upstream(%s, key redacted)", u.Certificates[0].Subject)
}

// LogValue logs what String returns.
func (u *Upstream) LogValue() slog.Value { return slog.StringValue(u.String()) }

// LoadUpstream reads an upstream authority from PEM files: certFile holds
// the signing certificate followed by its chain, keyFile its private key
// (PKCS#8, SEC 1 or PKCS#1), bundleFile the root certificates. It returns an
// error if a file is unreadable, holds no usable PEM block, or if the key
// does not match the certificate or the certificate is not a CA.
func LoadUpstream(certFile, keyFile, bundleFile string) (*Upstream, error) {
	certs, err := readPEMCertificates(certFile)
	if err != nil {
		return nil, err
	}
	roots, err := readPEMCertificates(bundleFile)
	if err != nil {
		return nil, err
	}
	signer, err := readPEMSigner(keyFile)
	if err != nil {
		return nil, err
	}
	u := &Upstream{Certificates: certs, Signer: signer, Roots: roots}
	if err := u.check(); err != nil {
		return nil, err
	}
	return u, nil
}

func readPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: upstream: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: upstream: %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("ca: upstream: %s: no CERTIFICATE PEM block", path)
	}
	return certs, nil
}

func readPEMSigner(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca: upstream: %w", err)
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("ca: upstream: %s: no private key PEM block", path)
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: upstream: %s: %w", path, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("ca: upstream: %s: key of type %T cannot sign", path, key)
		}
		return signer, nil
	}
}

// check verifies what does not depend on the time.
func (u *Upstream) check() error {
	switch {
	case len(u.Certificates) == 0:
		return errors.New("ca: upstream: no certificates")
	case u.Signer == nil:
		return errors.New("ca: upstream: no signer")
	case len(u.Roots) == 0:
		return errors.New("ca: upstream: no roots")
	}
	c := u.Certificates[0]
	if !c.BasicConstraintsValid || !c.IsCA {
		return fmt.Errorf("ca: upstream: certificate %q is not a CA", c.Subject)
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("ca: upstream: certificate %q may not sign certificates", c.Subject)
	}
	pub, ok := u.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(c.PublicKey) {
		return fmt.Errorf("ca: upstream: key does not match certificate %q", c.Subject)
	}
	return nil
}

// validate checks u and that its chain leads to one of its roots at now.
func (u *Upstream) validate(now time.Time) error {
	if err := u.check(); err != nil {
		return err
	}
	if _, err := u.Certificates[0].Verify(verifyOptions(u.Roots, u.Certificates[1:], now)); err != nil {
		return fmt.Errorf("ca: upstream: certificate does not chain to the upstream roots: %w", err)
	}
	return nil
}

// chain returns the upstream certificates that SVID chains carry: all of
// Certificates except those that are roots.
func (u *Upstream) chain() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range u.Certificates {
		if !containsCert(u.Roots, c) {
			out = append(out, c)
		}
	}
	return out
}

// notAfter is the earliest expiry in the upstream chain.
func (u *Upstream) notAfter() time.Time {
	t := u.Certificates[0].NotAfter
	for _, c := range u.Certificates[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// verifyOptions verifies a CA certificate against roots at now.
func verifyOptions(roots, intermediates []*x509.Certificate, now time.Time) x509.VerifyOptions {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, c := range intermediates {
		opts.Intermediates.AddCert(c)
	}
	return opts
}
