// Package oidcdiscovery publishes a trust domain's JWT authorities the way
// OpenID Connect relying parties find keys, as SPIRE's OIDC Discovery
// Provider does: a discovery document at ISSUER/.well-known/openid-configuration
// and a JWKS at ISSUER/keys. A JWT-SVID whose iss is the issuer (see
// ca.Config.JWTIssuer) is then accepted, from the issuer URL alone, by any
// OIDC library, cloud provider or service that federates with an OIDC
// identity provider: no secret is shared.
//
// It serves public keys only and decides nothing; the keys come from the
// CA's bundle at each request, so rotation needs nothing of it.
package oidcdiscovery

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// PathDiscovery and PathKeys are the paths, below the issuer's path, of
// the discovery document and the JWKS.
const (
	PathDiscovery = "/.well-known/openid-configuration"
	PathKeys      = "/keys"
)

// BundleSource gives the trust domain's current bundle; *ca.CA
// implements it.
type BundleSource interface {
	Bundle() *spiffebundle.Bundle
}

// Config configures a [Provider].
type Config struct {
	// Issuer is the issuer URL, the iss of the JWT-SVIDs: https, with a
	// host, an optional path, no query or fragment. Required.
	Issuer string
	// Bundles gives the JWT authorities. Required.
	Bundles BundleSource
}

// Provider serves the discovery document and JWKS of one issuer.
type Provider struct {
	issuer string
	path   string // the issuer URL's path, without a trailing slash
	src    BundleSource
}

// New returns the provider for cfg. It returns an error if Issuer is not
// an https URL with a host and without query or fragment, or Bundles is nil.
func New(cfg Config) (*Provider, error) {
	if err := CheckIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Bundles == nil {
		return nil, errors.New("oidcdiscovery: Config.Bundles is required")
	}
	u, _ := url.Parse(cfg.Issuer)
	return &Provider{issuer: strings.TrimSuffix(cfg.Issuer, "/"), path: strings.TrimSuffix(u.EscapedPath(), "/"), src: cfg.Bundles}, nil
}

// CheckIssuer returns an error unless issuer is an https URL with a host
// and without query, fragment or user information (OpenID Connect
// Discovery 1.0 §3).
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return fmt.Errorf("oidcdiscovery: issuer %q: want an https URL with a host and no query or fragment", issuer)
	}
	return nil
}

// Paths returns the URL paths p serves: the discovery document's and the
// JWKS's.
func (p *Provider) Paths() (discovery, keys string) {
	return p.path + PathDiscovery, p.path + PathKeys
}

// Document is the OpenID Provider metadata p serves.
type Document struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// Document returns the discovery document: the issuer, the JWKS URL, and
// the algorithms of the current JWT authorities. There is no
// authorization endpoint: JWT-SVIDs come from the Workload API, not from
// a login (SPIRE's provider leaves it empty too).
func (p *Provider) Document() Document {
	return Document{
		Issuer:                           p.issuer,
		JWKSURI:                          p.issuer + PathKeys,
		AuthorizationEndpoint:            "",
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: p.algorithms(),
		ClaimsSupported:                  []string{"sub", "aud", "exp", "iat", "iss"},
	}
}

// JWKS returns the trust domain's JWT authorities as a JSON Web Key Set,
// each key with its kid, "use": "sig" and its algorithm.
func (p *Provider) JWKS() jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	b := p.src.Bundle()
	if b == nil {
		return set
	}
	auth := b.JWTAuthorities()
	kids := make([]string, 0, len(auth))
	for kid := range auth {
		kids = append(kids, kid)
	}
	slices.Sort(kids)
	for _, kid := range kids {
		alg := algorithm(auth[kid])
		if alg == "" {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: auth[kid], KeyID: kid, Use: "sig", Algorithm: alg})
	}
	return set
}

// algorithms returns the signing algorithms of the current keys, ES256
// when there are none.
func (p *Provider) algorithms() []string {
	var algs []string
	for _, k := range p.JWKS().Keys {
		if !slices.Contains(algs, k.Algorithm) {
			algs = append(algs, k.Algorithm)
		}
	}
	if len(algs) == 0 {
		algs = []string{string(jose.ES256)}
	}
	slices.Sort(algs)
	return algs
}

// algorithm names the JWS algorithm a key of this type signs with, or ""
// for a key type JWT-SVIDs do not use.
func algorithm(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return string(jose.ES256)
		case elliptic.P384():
			return string(jose.ES384)
		case elliptic.P521():
			return string(jose.ES512)
		}
	case *rsa.PublicKey:
		return string(jose.RS256)
	case ed25519.PublicKey:
		return string(jose.EdDSA)
	}
	return ""
}

// ServeHTTP serves GET (and HEAD) of the discovery document and the JWKS
// at [Provider.Paths], and 404 for anything else.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	disc, keys := p.Paths()
	var v any
	switch r.URL.EscapedPath() {
	case disc:
		v = p.Document()
	case keys:
		v = p.JWKS()
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Keys rotate with the CA: a prepared key is published a third of a
	// CA lifetime before it signs, so a few minutes of caching is safe.
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(append(b, '\n'))
}
