// Package workloadfetch fetches what the SPIFFE Workload API gives the
// calling process, once, as `kith workload fetch` does (like spire-agent
// api fetch): its X509-SVIDs with their trust bundles, JWT-SVIDs for an
// audience, and the bundles alone; and writes X509-SVIDs to files in the
// layout spire-agent api fetch x509 -write uses.
//
// It is a client of any Workload API (Kith's agent, SPIRE's); it
// verifies nothing the API gives beyond what go-spiffe parses.
package workloadfetch

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// X509SVID describes an X509-SVID the Workload API gave.
type X509SVID struct {
	SPIFFEID      string    `json:"spiffe_id"`
	Hint          string    `json:"hint,omitempty"`
	SerialNumber  string    `json:"serial_number"`
	NotAfter      time.Time `json:"not_after"`
	Intermediates int       `json:"intermediates"`
	// Bundle is the number of X.509 authorities of its trust domain.
	Bundle int `json:"bundle_authorities"`
}

// X509Result is what [FetchX509] returns.
type X509Result struct {
	SVIDs []X509SVID `json:"svids"`
	// FederatedWith lists the other trust domains whose bundles came too.
	FederatedWith []string `json:"federated_with,omitempty"`
	// Context is the Workload API's answer as go-spiffe parsed it.
	Context *workloadapi.X509Context `json:"-"`
}

// FetchX509 asks the Workload API at addr (unix:///path) for the calling
// process's X509-SVIDs and bundles. It returns the Workload API's error,
// such as PermissionDenied when the process has no identity there.
func FetchX509(ctx context.Context, addr string) (*X509Result, error) {
	x, err := workloadapi.FetchX509Context(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		return nil, fmt.Errorf("workload fetch x509: %w", err)
	}
	r := &X509Result{Context: x}
	for _, s := range x.SVIDs {
		leaf := s.Certificates[0]
		info := X509SVID{SPIFFEID: s.ID.String(), Hint: s.Hint, SerialNumber: leaf.SerialNumber.Text(16),
			NotAfter: leaf.NotAfter.UTC(), Intermediates: len(s.Certificates) - 1}
		if b, err := x.Bundles.GetX509BundleForTrustDomain(s.ID.TrustDomain()); err == nil {
			info.Bundle = len(b.X509Authorities())
		}
		r.SVIDs = append(r.SVIDs, info)
	}
	own := map[spiffeid.TrustDomain]bool{}
	for _, s := range x.SVIDs {
		own[s.ID.TrustDomain()] = true
	}
	for _, b := range x.Bundles.Bundles() {
		if !own[b.TrustDomain()] {
			r.FederatedWith = append(r.FederatedWith, b.TrustDomain().Name())
		}
	}
	slices.Sort(r.FederatedWith)
	return r, nil
}

// WriteX509 writes x to dir as spire-agent api fetch x509 -write does:
// for the i-th SVID, svid.i.pem (its chain), svid.i.key (its private key,
// PKCS #8, mode 0600) and bundle.i.pem (its trust domain's authorities);
// federated_bundle.i.j.pem for the j-th other trust domain. It returns the
// paths written, and an error from the file system or a key that cannot
// be encoded.
func WriteX509(dir string, x *workloadapi.X509Context) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var written []string
	write := func(name string, data []byte, mode os.FileMode) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	for i, s := range x.SVIDs {
		key, err := x509.MarshalPKCS8PrivateKey(s.PrivateKey)
		if err != nil {
			return written, fmt.Errorf("SVID %s: key: %w", s.ID, err)
		}
		if err := write(fmt.Sprintf("svid.%d.key", i), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
			return written, err
		}
		if err := write(fmt.Sprintf("svid.%d.pem", i), certsPEM(s.Certificates), 0o644); err != nil {
			return written, err
		}
		b, err := x.Bundles.GetX509BundleForTrustDomain(s.ID.TrustDomain())
		if err != nil {
			return written, fmt.Errorf("SVID %s: %w", s.ID, err)
		}
		if err := write(fmt.Sprintf("bundle.%d.pem", i), certsPEM(b.X509Authorities()), 0o644); err != nil {
			return written, err
		}
		j := 0
		for _, fb := range x.Bundles.Bundles() {
			if fb.TrustDomain() == s.ID.TrustDomain() {
				continue
			}
			if err := write(fmt.Sprintf("federated_bundle.%d.%d.pem", i, j), certsPEM(fb.X509Authorities()), 0o644); err != nil {
				return written, err
			}
			j++
		}
	}
	return written, nil
}

// JWTSVID is a JWT-SVID the Workload API gave.
type JWTSVID struct {
	SPIFFEID string    `json:"spiffe_id"`
	Hint     string    `json:"hint,omitempty"`
	Audience []string  `json:"audience"`
	Expiry   time.Time `json:"expiry"`
	Token    string    `json:"token"`
}

// FetchJWT asks the Workload API at addr for JWT-SVIDs for audience
// (the first entry the audience, the others extra ones), of the SPIFFE ID
// id or, when empty, of every identity the process has. It returns an
// error for an empty audience or the Workload API's.
func FetchJWT(ctx context.Context, addr string, audience []string, id string) ([]JWTSVID, error) {
	if len(audience) == 0 {
		return nil, errors.New("workload fetch jwt: an audience is required")
	}
	p := jwtsvid.Params{Audience: audience[0], ExtraAudiences: audience[1:]}
	if id != "" {
		sid, err := spiffeid.FromString(id)
		if err != nil {
			return nil, fmt.Errorf("workload fetch jwt: %w", err)
		}
		p.Subject = sid
	}
	c, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		return nil, fmt.Errorf("workload fetch jwt: %w", err)
	}
	defer c.Close()
	svids, err := c.FetchJWTSVIDs(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("workload fetch jwt: %w", err)
	}
	out := make([]JWTSVID, len(svids))
	for i, s := range svids {
		out[i] = JWTSVID{SPIFFEID: s.ID.String(), Hint: s.Hint, Audience: s.Audience, Expiry: s.Expiry.UTC(), Token: s.Marshal()}
	}
	return out, nil
}

// Bundles are the trust bundles the Workload API gives, per trust domain.
type Bundles struct {
	// X509 and JWT are the authorities, as go-spiffe parsed them.
	X509 *x509bundle.Set
	JWT  *jwtbundle.Set
}

// FetchBundles asks the Workload API at addr for the X.509 and JWT
// bundles. It returns the Workload API's error.
func FetchBundles(ctx context.Context, addr string) (*Bundles, error) {
	c, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		return nil, fmt.Errorf("workload fetch bundle: %w", err)
	}
	defer c.Close()
	x, err := c.FetchX509Bundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("workload fetch bundle: %w", err)
	}
	j, err := c.FetchJWTBundles(ctx)
	if err != nil {
		return nil, fmt.Errorf("workload fetch bundle: %w", err)
	}
	return &Bundles{X509: x, JWT: j}, nil
}

// TrustDomains returns the trust domains of b, sorted.
func (b *Bundles) TrustDomains() []spiffeid.TrustDomain {
	seen := map[spiffeid.TrustDomain]bool{}
	for _, x := range b.X509.Bundles() {
		seen[x.TrustDomain()] = true
	}
	for _, j := range b.JWT.Bundles() {
		seen[j.TrustDomain()] = true
	}
	tds := make([]spiffeid.TrustDomain, 0, len(seen))
	for td := range seen {
		tds = append(tds, td)
	}
	slices.SortFunc(tds, func(a, b spiffeid.TrustDomain) int { return strings.Compare(a.Name(), b.Name()) })
	return tds
}

// SPIFFEBundle returns td's bundle in the SPIFFE bundle format (a JWKS of
// its X.509 and JWT authorities), or nil if b has none for it.
func (b *Bundles) SPIFFEBundle(td spiffeid.TrustDomain) *spiffebundle.Bundle {
	out := spiffebundle.New(td)
	found := false
	if x, ok := b.X509.Get(td); ok {
		out.SetX509Authorities(x.X509Authorities())
		found = true
	}
	if j, ok := b.JWT.Get(td); ok {
		out.SetJWTAuthorities(j.JWTAuthorities())
		found = true
	}
	if !found {
		return nil
	}
	return out
}

// PEM returns the X.509 authorities of td as PEM, or nil.
func (b *Bundles) PEM(td spiffeid.TrustDomain) []byte {
	x, ok := b.X509.Get(td)
	if !ok {
		return nil
	}
	return certsPEM(x.X509Authorities())
}

func certsPEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
