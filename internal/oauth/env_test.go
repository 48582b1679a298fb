package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/oauth/oauthtest"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/revocation"
	"github.com/kith-dev/kith/internal/revocation/revocationstore"
	"github.com/kith-dev/kith/internal/store"
)

const issuer = "https://kith.test"

var (
	td  = spiffeid.RequireTrustDomainFromString("kith.test")
	t0  = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	adm = audit.Actor{Kind: "admin", ID: "admin:test"}
)

// env is a token service over a real SQLite store, registry, CA and
// revocation set, with a settable clock.
type env struct {
	t     testing.TB
	svc   *oauth.Service
	store *store.Store
	reg   *registry.Registry
	ca    *ca.CA
	revs  *revocation.Set
	audit *oauthtest.Events
	clock *oauthtest.Clock
	entry registry.Entry // spiffe://kith.test/orders
	cfg   oauth.Config   // the service's configuration, for a second replica
}

func newEnv(t testing.TB, mutate ...func(*oauth.Config)) *env {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, store: st, audit: &oauthtest.Events{}, clock: oauthtest.NewClock(t0)}
	key := make([]byte, ca.KEKSize)
	rand.Read(key)
	kek, err := ca.NewKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	if e.ca, err = ca.New(ctx, ca.Config{TrustDomain: td, Journal: st, KEK: kek, Clock: e.clock.Now, Auditor: e.audit}); err != nil {
		t.Fatalf("ca: %v", err)
	}
	// As the server does: entry changes hold or lift the tokens of their
	// clients in their transaction, and once committed empty the
	// service's cache and refresh the revocation set.
	if e.reg, err = registry.New(registry.Config{TrustDomain: td, Store: st, Auditor: entryAuditor{e}, Clock: e.clock.Now,
		Hook: entryHook{e}}); err != nil {
		t.Fatal(err)
	}
	if e.revs, err = revocation.New(ctx, revocation.Config{Store: revocationstore.New(st), Clock: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	sink, logger := watch.sink(t.Name(), e.audit)
	cfg := oauth.Config{
		Issuer: issuer, AltBaseURLs: []string{"https://127.0.0.1:8443"}, TrustDomain: td,
		Clients: st, Keys: st, KEK: kek, Registry: e.reg, Bundles: e.ca, Revocations: e.revs, Auditor: e.audit,
		Clock: e.clock.Now, Logger: logger,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e.cfg = cfg
	if e.svc, err = oauth.New(ctx, cfg); err != nil {
		t.Fatalf("oauth.New: %v", err)
	}
	watch.checkAtEnd(t, e.svc, sink)
	e.entry = e.newEntry("orders", "orders:read", "orders:write", "admin")
	return e
}

// entryHook hands entry changes to the service, once it exists.
type entryHook struct{ e *env }

func (h entryHook) EntryChanged(ctx context.Context, tx *store.Tx, ent registry.Entry, deleted bool) error {
	if h.e.svc == nil {
		return nil
	}
	return h.e.svc.EntryChanged(ctx, tx, ent, deleted)
}

// entryAuditor records the registry's events and, after each committed
// change, tells the service and refreshes the revocation set.
type entryAuditor struct{ e *env }

func (a entryAuditor) Record(ctx context.Context, ev audit.Event) (int64, error) {
	return a.e.audit.Record(ctx, ev)
}

func (a entryAuditor) RecordTx(ctx context.Context, tx ledger.EventAppender, ev audit.Event) error {
	return a.e.audit.RecordTx(ctx, tx, ev)
}

func (a entryAuditor) Adopt(ctx context.Context) error {
	if a.e.svc != nil {
		a.e.svc.EntriesChanged()
	}
	if err := a.e.revs.Sync(ctx); err != nil {
		return err
	}
	return a.e.audit.Adopt(ctx)
}

// replica starts a second token service over the same store, with its own
// caches and revocation set, as another server replica; mutate may change
// its Config. The returned env sends requests to it.
func (e *env) replica(mutate ...func(*oauth.Config)) *env {
	e.t.Helper()
	revs, err := revocation.New(e.t.Context(), revocation.Config{Store: revocationstore.New(e.store), Clock: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Revocations = revs
	for _, m := range mutate {
		m(&cfg)
	}
	r := *e
	r.revs = revs
	if r.svc, err = oauth.New(e.t.Context(), cfg); err != nil {
		e.t.Fatalf("replica: %v", err)
	}
	return &r
}

// newEntry registers spiffe://kith.test/<name> with the given max scopes.
func (e *env) newEntry(name string, scopes ...string) registry.Entry {
	e.t.Helper()
	ent, err := e.reg.Create(e.t.Context(), adm, registry.Spec{
		SPIFFEID: "spiffe://kith.test/" + name, Selectors: []string{"unix:uid:1000"}, MaxScopes: scopes,
	})
	if err != nil {
		e.t.Fatalf("create entry: %v", err)
	}
	return ent
}

// client creates a client for entry (e.entry if zero) with method m.
func (e *env) client(m oauth.AuthMethod, entry registry.Entry, scopes []string, keys ...json.RawMessage) (oauth.Client, oauth.Secret) {
	e.t.Helper()
	if entry.ID == "" {
		entry = e.entry
	}
	c, sec, err := e.svc.CreateClient(e.t.Context(), adm, oauth.ClientSpec{
		EntryID: entry.ID, AuthMethod: string(m), Scopes: scopes,
		Audiences: []string{"spiffe://kith.test/billing", "https://api.kith.test"}, Keys: keys,
	})
	if err != nil {
		e.t.Fatalf("CreateClient: %v", err)
	}
	watch.track(sec.Reveal())
	return c, sec
}

// request describes a call to the handler.
type request struct {
	path   string // default PathToken
	form   url.Values
	basic  [2]string // client ID and secret for HTTP Basic
	dpop   string
	peer   []*x509.Certificate
	remote string
	header http.Header
}

// do sends req to the service's handler.
func (e *env) do(req request) *httptest.ResponseRecorder {
	e.t.Helper()
	if req.path == "" {
		req.path = oauth.PathToken
	}
	watch.trackSent(req.form.Encode(), req.basic[0], req.basic[1], req.dpop)
	for name := range req.form {
		watch.trackSent(name)
		watch.trackSent(req.form[name]...)
	}
	r := httptest.NewRequest(http.MethodPost, issuer+req.path, strings.NewReader(req.form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range req.header {
		r.Header[k] = vs
	}
	if req.basic[0] != "" {
		r.SetBasicAuth(url.QueryEscape(req.basic[0]), url.QueryEscape(req.basic[1]))
	}
	if req.dpop != "" {
		r.Header.Set("DPoP", req.dpop)
	}
	if req.peer != nil {
		r.TLS = &tls.ConnectionState{PeerCertificates: req.peer, HandshakeComplete: true}
	}
	r.RemoteAddr = "192.0.2.1:1234"
	if req.remote != "" {
		r.RemoteAddr = req.remote
	}
	w := httptest.NewRecorder()
	e.svc.Handler().ServeHTTP(w, r)
	return w
}

// get sends a GET request for path to the service's handler.
func (e *env) get(path string) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.svc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+path, nil))
	if w.Code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	return w
}

// tokenResp is the JSON of a token response or error.
type tokenResp struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
	IssuedTokenType string `json:"issued_token_type"`
	Error           string `json:"error"`
	Description     string `json:"error_description"`
}

func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", w.Body.String(), err)
	}
	return v
}

// mustToken asserts a 200 token response and returns it.
func (e *env) mustToken(req request) tokenResp {
	e.t.Helper()
	w := e.do(req)
	if w.Code != http.StatusOK {
		e.t.Fatalf("token request: %d %s", w.Code, w.Body)
	}
	return decode[tokenResp](e.t, w)
}

// wantError asserts an OAuth error answer.
func wantError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if got := decode[tokenResp](t, w); got.Error != code {
		t.Fatalf("error %q (%s), want %q", got.Error, got.Description, code)
	}
}

// ccForm is a client credentials form.
func ccForm(kv ...string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// claims are the claims of an access token as a test reads them.
type claims struct {
	jwt.Claims
	ClientID string         `json:"client_id"`
	Scope    string         `json:"scope"`
	ACR      string         `json:"acr"`
	Cnf      map[string]any `json:"cnf"`
	Act      map[string]any `json:"act"`
}

// verify checks tok against the service's JWKS with go-jose and returns
// its claims.
func (e *env) verify(tok string) claims {
	e.t.Helper()
	w := e.get(oauth.PathJWKS)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		e.t.Fatalf("JWKS: %v", err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		e.t.Fatalf("parse token: %v", err)
	}
	if typ := parsed.Headers[0].ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		e.t.Errorf("typ = %v, want at+jwt", typ)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("kid %q not in the JWKS", parsed.Headers[0].KeyID)
	}
	var c claims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		e.t.Fatalf("verify token: %v", err)
	}
	return c
}

// introspect asks about tok as the client with the given Basic secret.
func (e *env) introspect(id oauth.ClientID, sec oauth.Secret, tok string) map[string]any {
	e.t.Helper()
	w := e.do(request{path: oauth.PathIntrospect, form: url.Values{"token": {tok}}, basic: [2]string{string(id), sec.Reveal()}})
	if w.Code != http.StatusOK {
		e.t.Fatalf("introspect: %d %s", w.Code, w.Body)
	}
	return decode[map[string]any](e.t, w)
}

// svid mints an X509-SVID for name and returns its chain and key.
func (e *env) svid(name string) ([]*x509.Certificate, *ecdsa.PrivateKey) {
	e.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.ca.MintX509SVID(e.t.Context(), ca.X509Params{CSR: csr, SPIFFEID: spiffeid.RequireFromPath(td, "/"+name)})
	if err != nil {
		e.t.Fatalf("mint x509-svid: %v", err)
	}
	return s.Certificates, key
}

// jwtSVID mints a JWT-SVID for name with audience aud.
func (e *env) jwtSVID(name string, aud ...string) string {
	e.t.Helper()
	tok, _, err := e.ca.MintJWTSVID(e.t.Context(), ca.JWTParams{SPIFFEID: spiffeid.RequireFromPath(td, "/"+name), Audience: aud})
	if err != nil {
		e.t.Fatalf("mint jwt-svid: %v", err)
	}
	return tok
}

// x5t is the cnf.x5t#S256 of a DER certificate.
func x5t(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// serialHex is a certificate's serial as the revocation set names it.
// serialHex is a certificate's serial in the revocation set's spelling:
// lower-case hex without leading zeros.
func serialHex(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

func asValidation(err error, ve **oauth.ValidationError) bool { return errors.As(err, ve) }
