package server

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/store/storetest"
)

// tokenStatus asks ts's token endpoint for a client credentials token
// and returns the answer's status.
func tokenStatus(t *testing.T, ts *testServer, roots *x509.CertPool, id, secret string) int {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+ts.Addr()+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	hc := (&oauthEnv{roots: roots}).httpClient()
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestQuarantineStopsTokensOnEveryReplica runs two replicas on one
// PostgreSQL store. Both issue tokens to a client; the entry is
// quarantined through the first. The first refuses the very next token
// request; the second stops within a second.
func TestQuarantineStopsTokensOnEveryReplica(t *testing.T) {
	storeURL := storetest.PostgresURL(t)
	a := startServer(t, "example.org", func(c *Config) { c.StoreURL = storeURL })
	b := startServer(t, "example.org", func(c *Config) {
		c.StoreURL, c.KEKFile = storeURL, filepath.Join(a.dir, "kek")
	})
	roots := x509.NewCertPool()
	for _, c := range a.CA().X509Authorities() {
		roots.AddCert(c)
	}
	var ent api.Entry
	if code := a.do(t, http.MethodPost, "/v1/entries", a.token, api.Entry{SPIFFEID: "spiffe://example.org/orders",
		Selectors: []string{"unix:uid:1000"}}, &ent); code != http.StatusCreated {
		t.Fatalf("create entry: %d", code)
	}
	var cs api.ClientSecret
	if code := a.do(t, http.MethodPost, "/v1/clients", a.token, api.ClientCreate{EntryID: ent.ID,
		Audiences: []string{"spiffe://example.org/billing"}}, &cs); code != http.StatusCreated {
		t.Fatalf("create client: %d", code)
	}
	for _, ts := range []*testServer{a, b} {
		if code := tokenStatus(t, ts, roots, cs.Client.ID, cs.Secret); code != http.StatusOK {
			t.Fatalf("token before the quarantine: %d", code)
		}
	}
	if code := a.do(t, http.MethodPost, "/v1/entries/"+ent.ID+"/quarantine", a.token, nil, nil); code != http.StatusOK {
		t.Fatalf("quarantine: %d", code)
	}
	if code := tokenStatus(t, a, roots, cs.Client.ID, cs.Secret); code != http.StatusUnauthorized {
		t.Errorf("the replica that quarantined: next token request %d, want 401", code)
	}
	// The other replica's cache signals nothing the test could wait on.
	if !await.Poll(time.Second, func() bool { return tokenStatus(t, b, roots, cs.Client.ID, cs.Secret) == http.StatusUnauthorized }) {
		t.Fatal("the other replica still issues tokens a second after the quarantine")
	}
}
