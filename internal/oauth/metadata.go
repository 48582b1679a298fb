package oauth

import (
	"encoding/json"
	"net/http"
)

// Metadata is the authorization server metadata (RFC 8414 §2) with the
// parameters of RFC 8705 and RFC 9449. It lists exactly what the server
// supports.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationEndpointAuthSigningAlgValues     []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthSigningAlgValues  []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	TLSClientCertificateBoundAccessTokens      bool     `json:"tls_client_certificate_bound_access_tokens"`
	DPoPSigningAlgValuesSupported              []string `json:"dpop_signing_alg_values_supported"`
}

// metadata returns the server's metadata.
func (s *Service) metadata() Metadata {
	methods := make([]string, len(authMethods))
	for i, m := range authMethods {
		methods[i] = string(m)
	}
	algs := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		algs[i] = string(a)
	}
	iss := s.cfg.Issuer
	return Metadata{
		Issuer:                            iss,
		TokenEndpoint:                     iss + PathToken,
		JWKSURI:                           iss + PathJWKS,
		ResponseTypesSupported:            []string{}, // no authorization endpoint
		GrantTypesSupported:               []string{grantClientCredentials, grantTokenExchange},
		TokenEndpointAuthMethodsSupported: methods,
		TokenEndpointAuthSigningAlgValuesSupported: algs,
		RevocationEndpoint:                         iss + PathRevoke,
		RevocationEndpointAuthMethodsSupported:     methods,
		RevocationEndpointAuthSigningAlgValues:     algs,
		IntrospectionEndpoint:                      iss + PathIntrospect,
		IntrospectionEndpointAuthMethodsSupported:  methods,
		IntrospectionEndpointAuthSigningAlgValues:  algs,
		TLSClientCertificateBoundAccessTokens:      true,
		DPoPSigningAlgValuesSupported:              algs,
	}
}

// handleMetadata serves GET /.well-known/oauth-authorization-server.
func (s *Service) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, s.metadata())
}

// handleJWKS serves GET /oauth2/jwks: every published signing key. Keys
// are published a KeyPublishLead before they sign, so verifiers caching the
// document for less than that never meet an unknown kid.
func (s *Service) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	w.Write(s.keys.jwks())
}

// Handler returns the handler of the public endpoints: the token,
// introspection and revocation endpoints, the JWKS and the metadata, at
// the paths PathToken, PathIntrospect, PathRevoke, PathJWKS and
// PathMetadata. Mount it on the server's mux for "/oauth2/" and
// PathMetadata. It reads r.TLS.PeerCertificates, so the listener should
// request (not require) client certificates; it verifies them itself.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathToken, s.handleToken)
	mux.HandleFunc("POST "+PathIntrospect, s.handleIntrospect)
	mux.HandleFunc("POST "+PathRevoke, s.handleRevoke)
	mux.HandleFunc("GET "+PathJWKS, s.handleJWKS)
	mux.HandleFunc("GET "+PathMetadata, s.handleMetadata)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &protocolError{code: codeInvalidRequest, desc: "no such endpoint", status: http.StatusNotFound})
	})
	return mux
}

// writeJSON answers with v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	// The client may be gone; there is nobody to tell.
	_ = json.NewEncoder(w).Encode(v)
}
