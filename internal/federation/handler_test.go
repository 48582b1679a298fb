package federation

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// ownBundle is an OwnBundleSource whose bundle can change.
type ownBundle struct {
	mu sync.Mutex
	b  *spiffebundle.Bundle
}

func (o *ownBundle) Bundle() *spiffebundle.Bundle {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b
}

func (o *ownBundle) set(b *spiffebundle.Bundle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b = b
}

func TestBundleHandler(t *testing.T) {
	first := newBundle(ownTD, 1, newCA(t, ownTD, "own root 1"))
	second := newBundle(ownTD, 2, newCA(t, ownTD, "own root 2"))
	second.SetRefreshHint(90 * time.Second)

	tests := []struct {
		name       string
		method     string
		bundle     *spiffebundle.Bundle
		wantStatus int
	}{
		{"GET", http.MethodGet, first, http.StatusOK},
		{"GET after rotation", http.MethodGet, second, http.StatusOK},
		{"POST", http.MethodPost, first, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, first, http.StatusMethodNotAllowed},
		{"no bundle yet", http.MethodGet, nil, http.StatusInternalServerError},
		{"bundle of another trust domain", http.MethodGet, newBundle(foreignTD, 1, newCA(t, foreignTD, "x")), http.StatusInternalServerError},
	}
	own := &ownBundle{}
	h := NewBundleHandler(ownTD, own, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own.set(tt.bundle)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, "/", nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", res.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			got, err := spiffebundle.Parse(ownTD, body)
			if err != nil {
				t.Fatalf("served bundle does not parse: %v", err)
			}
			if !got.Equal(tt.bundle) {
				t.Errorf("served bundle differs from the current one")
			}
		})
	}
}

// TestBundleHandlerServesFetchers checks the handler end to end: a Manager
// federates with a trust domain whose endpoint is NewBundleHandler.
func TestBundleHandlerServesFetchers(t *testing.T) {
	ca := newCA(t, foreignTD, "foreign root")
	own := &ownBundle{b: newBundle(foreignTD, 4, ca)}
	srv := httptest.NewUnstartedServer(NewBundleHandler(foreignTD, own, nil))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.svid(t, endpointID)}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	f := newFixture(t)
	rel := Relationship{TrustDomain: foreignTD, BundleEndpointURL: srv.URL, Profile: ProfileHTTPSSPIFFE, EndpointSPIFFEID: endpointID}
	st, err := f.m.Add(t.Context(), admin, rel, marshal(t, newBundle(foreignTD, 1, ca)))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if st.Sequence != 4 {
		t.Errorf("sequence = %d, want 4", st.Sequence)
	}
}
