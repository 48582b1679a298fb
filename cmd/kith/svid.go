package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// runSVID is `kith svid`: mint SVIDs.
func runSVID(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runGroup(ctx, "svid", []subcommand{
		{"mint", "mint an X509-SVID (key made locally) or a JWT-SVID", runSVIDMint},
	}, args, stdout, stderr)
}

// svidFlags are the flags of `kith svid mint`.
type svidFlags struct {
	spiffeID, certFile, keyFile, bundleFile string
	ttl                                     time.Duration
	dnsNames, audience                      stringList
	jwt                                     bool
}

// runSVIDMint is `kith svid mint`.
func runSVIDMint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("svid mint", "--spiffe-id ID (--cert FILE --key FILE | --jwt --audience A...) [flags]",
		"Mint an X509-SVID: make a P-256 key here, have the CA sign it, write the chain\n"+
			"to --cert and the key to --key (mode 0600). With --jwt, mint a JWT-SVID and\n"+
			"print the token.", stderr)
	var f svidFlags
	fs.StringVar(&f.spiffeID, "spiffe-id", "", "SPIFFE ID of the SVID (required)")
	durationVar(fs, &f.ttl, "ttl", 0, "lifetime, a `duration` such as 1h or 5m (0: server default)")
	fs.StringVar(&f.certFile, "cert", "", "X.509: file to write the certificate chain to (PEM)")
	fs.StringVar(&f.keyFile, "key", "", "X.509: file to write the private key to (PKCS#8 PEM, mode 0600)")
	fs.StringVar(&f.bundleFile, "bundle", "", "X.509: file to write the trust domain's roots to (PEM)")
	fs.Var(&f.dnsNames, "dns", "X.509: add a DNS name (repeatable)")
	fs.BoolVar(&f.jwt, "jwt", false, "mint a JWT-SVID instead of an X509-SVID")
	fs.Var(&f.audience, "audience", "JWT: add an audience (repeatable; at least one)")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if f.spiffeID == "" {
		return usagef(fs, "--spiffe-id is required")
	}
	if f.jwt {
		if f.certFile != "" || f.keyFile != "" || f.bundleFile != "" || len(f.dnsNames.vs) > 0 {
			return usagef(fs, "--cert, --key, --bundle and --dns do not apply to --jwt")
		}
		if len(f.audience.vs) == 0 {
			return usagef(fs, "--jwt needs at least one --audience")
		}
		return mintJWT(ctx, cf, f, stdout)
	}
	if len(f.audience.vs) > 0 {
		return usagef(fs, "--audience applies to --jwt only")
	}
	if f.certFile == "" || f.keyFile == "" {
		return usagef(fs, "--cert and --key are required (or --jwt)")
	}
	return mintX509(ctx, cf, f, stdout)
}

// mintJWT mints a JWT-SVID and prints it.
func mintJWT(ctx context.Context, cf *clientFlags, f svidFlags, stdout io.Writer) error {
	c, err := cf.client()
	if err != nil {
		return err
	}
	svid, err := c.MintJWTSVID(ctx, api.JWTSVIDMint{SPIFFEID: f.spiffeID, Audience: f.audience.vs, TTL: api.Duration(f.ttl)})
	if err != nil {
		return err
	}
	if cf.json() {
		return cf.encode(stdout, svid)
	}
	_, err = fmt.Fprintln(stdout, svid.Token)
	return err
}

// mintX509 makes a key and CSR, has the CA sign it, and writes the files.
// The files are opened first, so that a path that cannot be written stops
// it before the CA mints anything; each is replaced whole, or not at all.
func mintX509(ctx context.Context, cf *clientFlags, f svidFlags, stdout io.Writer) error {
	id, err := spiffeid.FromString(f.spiffeID)
	if err != nil {
		return usagef(cf.fs, "--spiffe-id: %v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var keyOut, certOut, bundleOut *pendingFile
	defer func() { keyOut.abort(); certOut.abort(); bundleOut.abort() }()
	if keyOut, err = prepareFile(f.keyFile); err != nil {
		return err
	}
	if certOut, err = prepareFile(f.certFile); err != nil {
		return err
	}
	if f.bundleFile != "" {
		if bundleOut, err = prepareFile(f.bundleFile); err != nil {
			return err
		}
	}
	key, csr, err := newCSR(id, f.dnsNames.vs)
	if err != nil {
		return err
	}
	keyBytes, err := keyPEM(key)
	if err != nil {
		return err
	}
	var bundle []byte
	if f.bundleFile != "" {
		if bundle, err = rootsPEM(ctx, c, id.TrustDomain()); err != nil {
			return err
		}
	}
	svid, err := c.MintX509SVID(ctx, api.X509SVIDMint{SPIFFEID: f.spiffeID, CSR: csr, TTL: api.Duration(f.ttl), DNSNames: f.dnsNames.vs})
	if err != nil {
		return err
	}
	if len(svid.Certificates) == 0 {
		return fmt.Errorf("mint X509-SVID for %s: the server returned no certificate", f.spiffeID)
	}
	if err := keyOut.commit(keyBytes, 0o600); err != nil {
		return err
	}
	if err := certOut.commit(certsPEM(svid.Certificates), 0o644); err != nil {
		return err
	}
	if f.bundleFile != "" {
		if err := bundleOut.commit(bundle, 0o644); err != nil {
			return err
		}
	}
	if cf.json() {
		return cf.encode(stdout, svid)
	}
	_, err = fmt.Fprintf(stdout, "Minted X509-SVID %s (serial %s, expires %s):\n  certificate chain: %s\n  private key:       %s\n",
		svid.SPIFFEID, svid.SerialNumber, timeText(svid.ExpiresAt), f.certFile, f.keyFile)
	if err == nil && f.bundleFile != "" {
		_, err = fmt.Fprintf(stdout, "  trust bundle:      %s\n", f.bundleFile)
	}
	return err
}

// newCSR makes a P-256 key and a CSR for it naming id and dnsNames, and
// returns the key and the DER of the CSR.
func newCSR(id spiffeid.ID, dnsNames []string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		URIs:     []*url.URL{id.URL()},
		DNSNames: dnsNames,
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return key, csr, nil
}

// rootsPEM returns the X.509 authorities of the bundle of td, in PEM.
func rootsPEM(ctx context.Context, c *adminclient.Client, td spiffeid.TrustDomain) ([]byte, error) {
	raw, err := c.Bundle(ctx)
	if err != nil {
		return nil, err
	}
	b, err := spiffebundle.Parse(td, raw)
	if err != nil {
		return nil, fmt.Errorf("parse bundle: %w", err)
	}
	var out []byte
	for _, cert := range b.X509Authorities() {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	return out, nil
}

// certsPEM encodes DER certificates as PEM, in order.
func certsPEM(ders [][]byte) []byte {
	var out []byte
	for _, der := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}
