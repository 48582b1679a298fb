package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
)

// RSA key sizes MintX509SVID accepts.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// csrSignatureAlgorithms are the signature algorithms accepted as proof of
// possession; SHA-1 and MD5 based ones are refused.
var csrSignatureAlgorithms = [...]x509.SignatureAlgorithm{
	x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
	x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
	x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512,
	x509.PureEd25519,
}

// parseCSR parses a DER CSR and checks its key and proof of possession.
func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	switch {
	case len(der) == 0:
		return nil, fmt.Errorf("%w: empty", ErrInvalidCSR)
	case len(der) > MaxCSRSize:
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidCSR, len(der), MaxCSRSize)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCSR, err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if !acceptedSignatureAlgorithm(csr.SignatureAlgorithm) {
		return nil, fmt.Errorf("%w: signature algorithm %v not accepted", ErrInvalidCSR, csr.SignatureAlgorithm)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: proof of possession: %v", ErrInvalidCSR, err)
	}
	return csr, nil
}

func acceptedSignatureAlgorithm(alg x509.SignatureAlgorithm) bool {
	return slices.Contains(csrSignatureAlgorithms[:], alg)
}

// checkPublicKey accepts ECDSA P-256/P-384, RSA 2048..8192 and Ed25519.
func checkPublicKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s, want P-256 or P-384", ErrUnsupportedKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrUnsupportedKey, bits, minRSABits, maxRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	case nil:
		return fmt.Errorf("%w: unknown key algorithm", ErrUnsupportedKey)
	}
	return fmt.Errorf("%w: key type %T", ErrUnsupportedKey, pub)
}

// checkDNSNames accepts host names of letters, digits and hyphens, with an
// optional leading "*." wildcard label.
func checkDNSNames(names []string) error {
	if len(names) > maxDNSNames {
		return fmt.Errorf("%w: %d DNS names, limit %d", ErrInvalidParams, len(names), maxDNSNames)
	}
	for _, n := range names {
		if !validDNSName(n) {
			return fmt.Errorf("%w: invalid DNS name %q", ErrInvalidParams, n)
		}
	}
	return nil
}

// checkIPAddresses accepts at most maxDNSNames IPv4 or IPv6 addresses.
func checkIPAddresses(ips []net.IP) error {
	if len(ips) > maxDNSNames {
		return fmt.Errorf("%w: %d IP addresses, limit %d", ErrInvalidParams, len(ips), maxDNSNames)
	}
	for _, ip := range ips {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("%w: invalid IP address %v", ErrInvalidParams, ip)
		}
	}
	return nil
}

func validDNSName(n string) bool {
	if len(n) == 0 || len(n) > 253 {
		return false
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 2 {
			continue
		}
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
			if !ok {
				return false
			}
		}
	}
	return true
}
