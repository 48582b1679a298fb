package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/federation"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/oidcdiscovery"
	"github.com/kith-dev/kith/internal/registry"
)

// route is one admin API route: a net/http pattern and its handler. Every
// route in adminRoutes requires the admin credential.
type route struct {
	pattern string
	handle  func(w http.ResponseWriter, r *http.Request, actor audit.Actor) error
}

// adminRoutes lists every admin route. Tests walk this list to prove that
// each one refuses a missing or wrong credential.
func (s *Server) adminRoutes() []route {
	return []route{
		{"GET /v1/entries", s.listEntries},
		{"POST /v1/entries", s.createEntry},
		{"POST /v1/entries/batch", s.createEntries},
		{"GET /v1/entries/{id}", s.getEntry},
		{"PUT /v1/entries/{id}", s.updateEntry},
		{"DELETE /v1/entries/{id}", s.deleteEntry},
		{"GET /v1/bundle", s.getBundle},
		{"GET /v1/federations", s.listFederations},
		{"POST /v1/federations", s.addFederation},
		{"GET /v1/federations/{td}", s.getFederation},
		{"DELETE /v1/federations/{td}", s.removeFederation},
		{"POST /v1/federations/{td}/refresh", s.refreshFederation},
		{"POST /v1/svids/x509", s.mintX509SVID},
		{"POST /v1/svids/jwt", s.mintJWTSVID},
		{"GET /v1/events", s.listEvents},
	}
}

// allAdminRoutes is every route that requires the admin credential.
func (s *Server) allAdminRoutes() []route {
	routes := append(s.adminRoutes(), s.ledgerRoutes()...)
	routes = append(routes, s.agentAdminRoutes()...)
	routes = append(routes, s.policyRoutes()...)
	routes = append(routes, s.trustRoutes()...)
	return append(routes, s.clientRoutes()...)
}

// adminHandler is the handler of the main listener: the admin API, the
// https_spiffe bundle endpoint, health and metrics.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.allAdminRoutes() {
		mux.Handle(rt.pattern, s.instrument(rt.pattern, s.admin(rt.handle)))
	}
	s.mountAgentRoutes(mux)
	mux.Handle("GET /healthz", s.instrument("GET /healthz", http.HandlerFunc(s.healthz)))
	mux.Handle("GET /readyz", s.instrument("GET /readyz", http.HandlerFunc(s.readyz)))
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("GET /bundle", s.instrument("GET /bundle", s.bundleHandler()))
	if p := s.oidcProvider(); p != nil {
		disc, keys := p.Paths()
		mux.Handle("GET "+disc, s.instrument("GET oidc discovery", p))
		mux.Handle("GET "+keys, s.instrument("GET oidc keys", p))
	}
	mux.Handle("/oauth2/", s.oauthHandler())
	mux.Handle("GET "+oauth.PathMetadata, s.oauthHandler())
	mux.Handle("/", s.instrument("unmatched", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &problemError{status: http.StatusNotFound, title: "Not Found", detail: "no such route"})
	})))
	return s.withRequestID(mux)
}

// bundleEndpointHandler is the handler of the https_web bundle endpoint:
// the bundle at every path but those of the OIDC discovery document and
// JWKS, when Config.JWTIssuer is set.
func (s *Server) bundleEndpointHandler() http.Handler {
	p := s.oidcProvider()
	if p == nil {
		return s.bundleHandler()
	}
	mux := http.NewServeMux()
	disc, keys := p.Paths()
	mux.Handle("GET "+disc, p)
	mux.Handle("GET "+keys, p)
	mux.Handle("/", s.bundleHandler())
	return mux
}

// oidcProvider returns the OIDC discovery provider for JWT-SVIDs, or nil
// when Config.JWTIssuer is not set.
func (s *Server) oidcProvider() *oidcdiscovery.Provider {
	if s.cfg.JWTIssuer == "" {
		return nil
	}
	p, err := oidcdiscovery.New(oidcdiscovery.Config{Issuer: s.cfg.JWTIssuer, Bundles: s.ca})
	if err != nil { // checked by setDefaults
		s.logger.Error("OIDC discovery", "error", err)
		return nil
	}
	return p
}

// bundleHandler serves the trust domain's bundle in SPIFFE bundle format.
func (s *Server) bundleHandler() http.Handler {
	return federation.NewBundleHandler(s.td, s.ca, s.logger)
}

// admin authenticates the request, then runs h and maps its error.
func (s *Server) admin(h func(http.ResponseWriter, *http.Request, audit.Actor) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := s.authenticateAdmin(r)
		if err == nil {
			actor.RemoteAddr = r.RemoteAddr
			err = h(w, r, actor)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

type requestIDKey struct{}

// withRequestID gives every request an ID, returned in X-Request-Id and
// carried into audit events.
func (s *Server) withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument counts and times requests by route pattern and logs them:
// at debug, or at info as an access log (Config.AccessLog).
func (s *Server) instrument(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observeRequest(name, rec.status, d)
		level := slog.LevelDebug
		if s.cfg.AccessLog {
			level = slog.LevelInfo
		}
		s.logger.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("route", name), slog.Int("status", rec.status),
			slog.Duration("duration", d), slog.String("remote", r.RemoteAddr),
			slog.String("request_id", requestID(r.Context())))
	})
}

// problemError is an error whose status and text are safe for the caller.
type problemError struct {
	status int
	title  string
	detail string
	field  string
	// retryAfter, if set, is sent as Retry-After (whole seconds, at
	// least one).
	retryAfter time.Duration
}

func (e *problemError) Error() string { return e.title + ": " + e.detail }

func badRequest(field, format string, a ...any) error {
	return &problemError{status: http.StatusBadRequest, title: "Bad Request", detail: fmt.Sprintf(format, a...), field: field}
}

// writeError is the one place that turns an error into an HTTP answer. Only
// errors known to carry public text reach the caller; anything else is
// logged and answered with a bare 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := api.Problem{Status: http.StatusInternalServerError, Title: "Internal Server Error",
		Detail: "the server failed; see its log for request " + requestID(r.Context())}
	var pe *problemError
	var ve *registry.ValidationError
	var fe *federation.FieldError
	switch {
	case errors.As(err, &pe):
		p = api.Problem{Status: pe.status, Title: pe.title, Detail: pe.detail, Field: pe.field}
		if pe.retryAfter > 0 {
			secs := (pe.retryAfter + time.Second - 1) / time.Second // rounded up
			w.Header().Set("Retry-After", strconv.Itoa(int(secs)))
		}
	case errors.As(err, &ve):
		p = api.Problem{Status: http.StatusBadRequest, Title: "Invalid entry", Detail: ve.Error(), Field: ve.Field}
	case errors.As(err, &fe):
		f := federationField(fe.Field) // the API's name, not the Go field's
		p = api.Problem{Status: http.StatusBadRequest, Title: "Invalid federation", Detail: f + ": " + fe.Err.Error(), Field: f}
	case errors.Is(err, federation.ErrFetch), errors.Is(err, federation.ErrBundleRejected):
		p = api.Problem{Status: http.StatusBadGateway, Title: "Bundle endpoint failed", Detail: err.Error()}
	case errors.Is(err, ca.ErrInvalidCSR), errors.Is(err, ca.ErrUnsupportedKey),
		errors.Is(err, ca.ErrInvalidSPIFFEID), errors.Is(err, ca.ErrInvalidParams):
		p = api.Problem{Status: http.StatusBadRequest, Title: "Bad Request", Detail: err.Error()}
	case errors.Is(err, ca.ErrUnavailable):
		p = api.Problem{Status: http.StatusServiceUnavailable, Title: "Service Unavailable", Detail: "the CA has no usable signing key right now"}
	case errors.Is(err, registry.ErrNotFound):
		p = api.Problem{Status: http.StatusNotFound, Title: "Not Found", Detail: err.Error()}
	case errors.As(err, new(*registry.InUseError)):
		p = api.Problem{Status: http.StatusConflict, Title: "Conflict", Detail: err.Error()}
	case errors.Is(err, registry.ErrConflict):
		p = api.Problem{Status: http.StatusConflict, Title: "Conflict",
			Detail: "an entry with the same SPIFFE ID, parent and selectors exists, or the entry changed since it was read"}
	case errors.Is(err, federation.ErrNotFound):
		p = api.Problem{Status: http.StatusNotFound, Title: "Not Found", Detail: "no federation with that trust domain"}
	case errors.Is(err, federation.ErrExists):
		p = api.Problem{Status: http.StatusConflict, Title: "Conflict", Detail: "already federated with that trust domain"}
	default:
		s.logger.Error("request failed", "route", r.Pattern, "request_id", requestID(r.Context()), "error", err)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kith-admin"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// federationField maps a federation.Relationship field name to the admin
// API's JSON name.
func federationField(f string) string {
	switch f {
	case "TrustDomain":
		return "trust_domain"
	case "BundleEndpointURL":
		return "bundle_endpoint_url"
	case "Profile":
		return "profile"
	case "EndpointSPIFFEID":
		return "endpoint_spiffe_id"
	case "bootstrap", "Bootstrap":
		return "bootstrap_bundle"
	}
	return f
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// maxBody bounds every admin API request body.
const maxBody = 1 << 20

// errBodyTooLarge is what a cappedReader returns past its limit.
var errBodyTooLarge = errors.New("request body too large")

// cappedReader reads r until more than n bytes were read, then fails with
// errBodyTooLarge, so that a decoder cut short tells "too large" from
// "malformed" (io.LimitReader would end in a silent EOF).
type cappedReader struct {
	r io.Reader
	n int64 // bytes still allowed
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.n+1 {
		p = p[:c.n+1]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	if c.n < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

// errTooLarge answers a body over maxBody.
func errTooLarge() error {
	return &problemError{status: http.StatusRequestEntityTooLarge, title: "Request Entity Too Large", detail: "request body over 1 MiB"}
}

// decodeJSON reads exactly one JSON object into v, refusing unknown fields,
// trailing data and bodies over maxBody (413).
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &problemError{status: http.StatusUnsupportedMediaType, title: "Unsupported Media Type", detail: "send application/json"}
	}
	if r.ContentLength > maxBody {
		return errTooLarge()
	}
	body := &cappedReader{r: r.Body, n: maxBody}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, errBodyTooLarge) || body.n < 0 {
		return errTooLarge()
	}
	if err != nil {
		return badRequest("", "request body: %v", err)
	}
	if dec.More() {
		return badRequest("", "request body: trailing data after the JSON object")
	}
	return nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports ready when the store answers and the audit ledger
// verified (see ledgercheck.go).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if problem := s.health.failed(); problem != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "ledger verification failed", "reason": problem})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.Warn("not ready: store", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
