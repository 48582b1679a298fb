package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

const (
	fakeToken = "test-admin-token-0123456789"
	fakeTD    = "example.org"
	// fakePageSize is small so that the CLI has to follow pages.
	fakePageSize = 2
)

// fakeTime is the time the fake admin server stamps on everything.
var fakeTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeAdmin is an in-memory admin API speaking the routes of the real one,
// with a test CA that signs its serving certificate and minted SVIDs.
type fakeAdmin struct {
	ca         *adminclienttest.CA
	bundleJSON []byte
	addr       string
	dataDir    string

	mu          sync.Mutex
	entries     map[string]api.Entry
	federations map[string]api.FederationCreate
	events      []api.Event
	requests    []string // "METHOD /path?query", in order
	lastJWT     api.JWTSVIDMint
	lastX509    api.X509SVIDMint
	// conflictOnPut makes every PUT answer 409, as if the entry changed.
	conflictOnPut bool
	// cutExport makes the event export break off half-way.
	cutExport bool
	// ledgerKey signs the fake ledger's checkpoints; ledgerVKey verifies.
	ledgerKey  note.Signer
	ledgerVKey string
	// checkpointLag is how many events the latest checkpoint leaves out.
	checkpointLag int
	// tampered replaces the data of entries served, not their leaf hash.
	tampered map[uint64]string
}

// newFakeAdmin starts a fake admin API and points the kith environment at
// a data folder describing it, as the real server writes it.
func newFakeAdmin(t *testing.T) *fakeAdmin {
	t.Helper()
	f := &fakeAdmin{
		ca:          adminclienttest.NewCA(t, fakeTD),
		entries:     map[string]api.Entry{},
		federations: map[string]api.FederationCreate{},
		dataDir:     t.TempDir(),
	}
	f.bundleJSON = f.ca.BundleJSON(t)
	f.ledgerKey, f.ledgerVKey = newLedgerKey(t)
	srv := adminclienttest.NewTLSServer(t, f.ca, "spiffe://"+fakeTD+"/kith/server", f.handler())
	f.addr = srv.Listener.Addr().String()

	info := fmt.Sprintf(`{"addr":%q,"trust_domain":%q}`, f.addr, fakeTD)
	mustWrite(t, filepath.Join(f.dataDir, "server.json"), []byte(info), 0o644)
	mustWrite(t, filepath.Join(f.dataDir, "bundle.pem"), f.ca.BundlePEM(), 0o644)
	mustWrite(t, filepath.Join(f.dataDir, "admin.token"), []byte(fakeToken+"\n"), 0o600)
	t.Setenv("KITH_DATA", f.dataDir)
	for _, k := range []string{"KITH_ADDR", "KITH_ADMIN_TOKEN", "KITH_CA_BUNDLE", "KITH_TRUST_DOMAIN"} {
		t.Setenv(k, "")
	}
	return f
}

// mustWrite writes a file or fails t.
func mustWrite(tb testing.TB, path string, b []byte, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		tb.Fatal(err)
	}
}

// addEntries stores entries e1..en with SPIFFE IDs spiffe://example.org/wN.
func (f *fakeAdmin) addEntries(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("e%d", i)
		f.entries[id] = api.Entry{
			ID: id, SPIFFEID: fmt.Sprintf("spiffe://example.org/w%d", i), Selectors: []string{"unix:uid:100" + strconv.Itoa(i)},
			Status: "active", Owner: "team-a", Labels: map[string]string{"env": "prod"},
			CreatedAt: fakeTime, UpdatedAt: fakeTime, Revision: 1,
		}
	}
}

// addEvents appends n ledger events of alternating types.
func (f *fakeAdmin) addEvents(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		typ := []string{"entry.created", "svid.x509.minted"}[i%2]
		body := fmt.Sprintf(`{"index":%d,"time":%q,"type":%q,"actor":{"kind":"admin","id":"admin-1"},"target":"e%d","action":"create","outcome":"success"}`,
			len(f.events), fakeTime.Add(time.Duration(i)*time.Second).Format(time.RFC3339), typ, i)
		f.events = append(f.events, api.Event{Index: int64(len(f.events)), Event: json.RawMessage(body)})
	}
}

// entry returns the stored entry id.
func (f *fakeAdmin) entry(id string) (api.Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[id]
	return e, ok
}

// requestLog returns the requests seen so far.
func (f *fakeAdmin) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// problem writes an api.Problem.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Title: http.StatusText(status), Status: status, Detail: detail})
}

// reply writes v as JSON with status.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handler routes the admin API; /v1 routes need the admin token.
func (f *fakeAdmin) handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]func(http.ResponseWriter, *http.Request){
		"GET /v1/entries":                   f.listEntries,
		"POST /v1/entries":                  f.createEntry,
		"GET /v1/entries/{id}":              f.getEntry,
		"PUT /v1/entries/{id}":              f.updateEntry,
		"DELETE /v1/entries/{id}":           f.deleteEntry,
		"GET /v1/bundle":                    f.bundle,
		"GET /v1/federations":               f.listFederations,
		"POST /v1/federations":              f.addFederation,
		"GET /v1/federations/{td}":          f.getFederation,
		"DELETE /v1/federations/{td}":       f.removeFederation,
		"POST /v1/federations/{td}/refresh": f.getFederation,
		"POST /v1/svids/x509":               f.mintX509,
		"POST /v1/svids/jwt":                f.mintJWT,
		"GET /v1/events":                    f.listEvents,
	}
	maps.Copy(routes, f.ledgerRoutes())
	for pattern, h := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
			f.mu.Unlock()
			if r.Header.Get("Authorization") != "Bearer "+fakeToken {
				problem(w, http.StatusUnauthorized, "missing or wrong admin token")
				return
			}
			h(w, r)
		})
	}
	return mux
}

func (f *fakeAdmin) listEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := fakePageSize
	if v := q.Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range f.entries {
			if !yield(id) {
				return
			}
		}
	})
	out := api.EntryList{Entries: []api.Entry{}}
	for _, id := range ids {
		e := f.entries[id]
		if id <= q.Get("after") || (q.Get("spiffe_id") != "" && e.SPIFFEID != q.Get("spiffe_id")) ||
			(q.Get("parent_id") != "" && e.ParentID != q.Get("parent_id")) || (q.Get("status") != "" && e.Status != q.Get("status")) {
			continue
		}
		if len(out.Entries) == limit {
			out.Next = out.Entries[len(out.Entries)-1].ID
			break
		}
		out.Entries = append(out.Entries, e)
	}
	reply(w, http.StatusOK, out)
}

func (f *fakeAdmin) createEntry(w http.ResponseWriter, r *http.Request) {
	var e api.Entry
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	if e.SPIFFEID == "spiffe://example.org/refused" {
		problem(w, http.StatusBadRequest, "spiffe_id: refused by the test server")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e.ID = fmt.Sprintf("e%d", len(f.entries)+1)
	e.CreatedAt, e.UpdatedAt, e.Revision = fakeTime, fakeTime, 1
	if e.Status == "" {
		e.Status = "active"
	}
	f.entries[e.ID] = e
	reply(w, http.StatusCreated, e)
}

func (f *fakeAdmin) getEntry(w http.ResponseWriter, r *http.Request) {
	e, ok := f.entry(r.PathValue("id"))
	if !ok {
		problem(w, http.StatusNotFound, "no entry "+r.PathValue("id"))
		return
	}
	reply(w, http.StatusOK, e)
}

func (f *fakeAdmin) updateEntry(w http.ResponseWriter, r *http.Request) {
	var e api.Entry
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.entries[r.PathValue("id")]
	switch {
	case !ok:
		problem(w, http.StatusNotFound, "no entry")
	case f.conflictOnPut || e.Revision != old.Revision:
		problem(w, http.StatusConflict, "the entry changed since it was read")
	default:
		e.ID, e.CreatedAt, e.Revision = old.ID, old.CreatedAt, old.Revision+1
		f.entries[e.ID] = e
		reply(w, http.StatusOK, e)
	}
}

func (f *fakeAdmin) deleteEntry(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.entries[r.PathValue("id")]; !ok {
		problem(w, http.StatusNotFound, "no entry")
		return
	}
	delete(f.entries, r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAdmin) bundle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(f.bundleJSON)
}

// federation returns the stored federation td as the API shows it.
func (f *fakeAdmin) federation(td string) (api.Federation, bool) {
	fc, ok := f.federations[td]
	return api.Federation{
		TrustDomain: fc.TrustDomain, BundleEndpointURL: fc.BundleEndpointURL, Profile: fc.Profile,
		EndpointSPIFFEID: fc.EndpointSPIFFEID, Sequence: 3, LastRefresh: fakeTime, NextRefresh: fakeTime.Add(time.Minute),
		Bundle: fc.Bootstrap,
	}, ok
}

func (f *fakeAdmin) listFederations(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := api.FederationList{Federations: []api.Federation{}}
	for _, td := range slices.Sorted(func(yield func(string) bool) {
		for td := range f.federations {
			if !yield(td) {
				return
			}
		}
	}) {
		fed, _ := f.federation(td)
		out.Federations = append(out.Federations, fed)
	}
	reply(w, http.StatusOK, out)
}

func (f *fakeAdmin) addFederation(w http.ResponseWriter, r *http.Request) {
	var fc api.FederationCreate
	if err := json.NewDecoder(r.Body).Decode(&fc); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.federations[fc.TrustDomain] = fc
	fed, _ := f.federation(fc.TrustDomain)
	reply(w, http.StatusCreated, fed)
}

func (f *fakeAdmin) getFederation(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fed, ok := f.federation(r.PathValue("td"))
	if !ok {
		problem(w, http.StatusNotFound, "no federation with "+r.PathValue("td"))
		return
	}
	reply(w, http.StatusOK, fed)
}

func (f *fakeAdmin) removeFederation(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.federations[r.PathValue("td")]; !ok {
		problem(w, http.StatusNotFound, "no federation")
		return
	}
	delete(f.federations, r.PathValue("td"))
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAdmin) mintX509(w http.ResponseWriter, r *http.Request) {
	var m api.X509SVIDMint
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	csr, err := x509.ParseCertificateRequest(m.CSR)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		problem(w, http.StatusBadRequest, "csr: "+err.Error())
		return
	}
	der, err := f.ca.Sign(m.SPIFFEID, csr.PublicKey, time.Duration(m.TTL), m.DNSNames...)
	if err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	leaf, _ := x509.ParseCertificate(der)
	f.mu.Lock()
	f.lastX509 = m
	f.mu.Unlock()
	reply(w, http.StatusOK, api.X509SVID{SPIFFEID: m.SPIFFEID, Certificates: [][]byte{der}, SerialNumber: leaf.SerialNumber.Text(16), ExpiresAt: leaf.NotAfter})
}

func (f *fakeAdmin) mintJWT(w http.ResponseWriter, r *http.Request) {
	var m api.JWTSVIDMint
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.lastJWT = m
	f.mu.Unlock()
	reply(w, http.StatusOK, api.JWTSVID{SPIFFEID: m.SPIFFEID, Token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", ExpiresAt: fakeTime})
}

func (f *fakeAdmin) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after := int64(-1)
	if v := q.Get("after"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	limit = min(max(limit, 1), fakePageSize) // the server caps pages
	f.mu.Lock()
	defer f.mu.Unlock()
	out := api.EventList{Events: []api.Event{}}
	for _, e := range f.events {
		var head struct{ Type string }
		_ = json.Unmarshal(e.Event, &head)
		if e.Index <= after || (q.Get("type") != "" && head.Type != q.Get("type")) {
			continue
		}
		if len(out.Events) == limit {
			break
		}
		out.Events = append(out.Events, e)
	}
	reply(w, http.StatusOK, out)
}
