package federation

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"no trust domain", func(c *Config) { c.OwnTrustDomain = spiffeid.TrustDomain{} }},
		{"no store", func(c *Config) { c.Store = nil }},
		{"no auditor", func(c *Config) { c.Auditor = nil }},
		{"negative timeout", func(c *Config) { c.HTTPTimeout = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{OwnTrustDomain: ownTD, Store: newMemStore(), Auditor: newMemAuditor()}
			tt.cfg(&cfg)
			if _, err := New(t.Context(), cfg); err == nil {
				t.Fatal("New succeeded, want error")
			}
		})
	}
}

func TestAddRejectsInvalid(t *testing.T) {
	fs := newForeign(t)
	valid := fs.rel
	tests := []struct {
		name      string
		rel       func(r *Relationship)
		bootstrap []byte // nil: the valid bootstrap
		field     string
		is        error
	}{
		{"own trust domain", func(r *Relationship) { r.TrustDomain = ownTD }, nil, "TrustDomain", ErrOwnTrustDomain},
		{"no trust domain", func(r *Relationship) { r.TrustDomain = spiffeid.TrustDomain{} }, nil, "TrustDomain", ErrInvalid},
		{"http URL", func(r *Relationship) { r.BundleEndpointURL = "http://127.0.0.1:1/" }, nil, "BundleEndpointURL", ErrInvalid},
		{"no URL", func(r *Relationship) { r.BundleEndpointURL = "" }, nil, "BundleEndpointURL", ErrInvalid},
		{"URL without host", func(r *Relationship) { r.BundleEndpointURL = "https:///bundle" }, nil, "BundleEndpointURL", ErrInvalid},
		{"URL with user", func(r *Relationship) { r.BundleEndpointURL = "https://u:p@127.0.0.1/" }, nil, "BundleEndpointURL", ErrInvalid},
		{"unknown profile", func(r *Relationship) { r.Profile = "https_magic" }, nil, "Profile", ErrInvalid},
		{"spiffe without endpoint ID", func(r *Relationship) { r.EndpointSPIFFEID = spiffeid.ID{} }, nil, "EndpointSPIFFEID", ErrInvalid},
		{"web with endpoint ID", func(r *Relationship) { r.Profile = ProfileHTTPSWeb }, nil, "EndpointSPIFFEID", ErrInvalid},
		{"endpoint in own trust domain without own bundle", func(r *Relationship) {
			r.EndpointSPIFFEID = spiffeid.RequireFromPath(ownTD, "/bundle")
		}, nil, "EndpointSPIFFEID", ErrInvalid},
		{"bootstrap missing", func(*Relationship) {}, []byte{}, "bootstrap", ErrInvalid},
		{"bootstrap not JSON", func(*Relationship) {}, []byte("{"), "bootstrap", ErrInvalid},
		{"bootstrap without X.509 authorities", func(*Relationship) {}, []byte(`{"keys":[]}`), "bootstrap", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := valid
			tt.rel(&r)
			boot := tt.bootstrap
			if boot == nil {
				boot = fs.bootstrap(t)
			}
			hits := fs.ep.hitCount()
			_, err := f.m.Add(t.Context(), admin, r, boot)
			if !errors.Is(err, tt.is) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Add error = %v, want one matching %v and ErrInvalid", err, tt.is)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Add error = %v, want a *FieldError for %q", err, tt.field)
			}
			if got := fs.ep.hitCount(); got != hits {
				t.Errorf("endpoint was called %d times, want none", got-hits)
			}
			if n := f.store.len(); n != 0 {
				t.Errorf("store holds %d records, want 0", n)
			}
			if got := f.audit.types(); len(got) != 0 {
				t.Errorf("audited %v, want nothing", got)
			}
		})
	}
}

func TestAddHTTPSSPIFFE(t *testing.T) {
	t.Run("bootstrap authenticates endpoint", func(t *testing.T) {
		fs := newForeign(t)
		other := newCA(t, foreignTD, "foreign root B")
		// The endpoint publishes a bundle with a second root beside the
		// bootstrap one; the Manager must hold what it fetched.
		published := newBundle(foreignTD, 7, fs.ca, other)
		published.SetRefreshHint(2 * time.Minute)
		fs.ep.setBody(marshal(t, published))
		f := newFixture(t)

		st, err := f.m.Add(t.Context(), admin, fs.rel, fs.bootstrap(t))
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		now := f.clock.Now()
		want := Status{
			Relationship:    fs.rel,
			Sequence:        7,
			X509Authorities: 2,
			LastRefresh:     now,
			NextRefresh:     now.Add(2 * time.Minute),
		}
		if diff := cmp.Diff(want, st, cmpSPIFFE()); diff != "" {
			t.Errorf("Add status (-want +got):\n%s", diff)
		}
		if got := f.held(t, foreignTD); !got.Equal(published) {
			t.Errorf("held bundle differs from the published one")
		}
		rec, ok := f.store.get(t, "foreign.test")
		if !ok {
			t.Fatal("relationship not stored")
		}
		wantRec := map[string]any{
			"url": fs.ep.URL(), "profile": "https_spiffe", "endpoint": endpointID.String(), "seq": uint64(7),
		}
		gotRec := map[string]any{
			"url": rec.BundleEndpointURL, "profile": rec.Profile, "endpoint": rec.EndpointSPIFFEID, "seq": rec.Sequence,
		}
		if diff := cmp.Diff(wantRec, gotRec); diff != "" {
			t.Errorf("stored record (-want +got):\n%s", diff)
		}
		ev := f.audit.last(t)
		if ev.Type != "federation.added" || ev.Outcome != audit.OutcomeSuccess || ev.Actor != admin || ev.Target != "foreign.test" {
			t.Errorf("audit event = %+v, want a successful federation.added by admin for foreign.test", ev)
		}
	})

	failures := []struct {
		name  string
		setup func(t *testing.T, fs *foreignSetup) (Relationship, []byte)
	}{
		{"bootstrap of another root", func(t *testing.T, fs *foreignSetup) (Relationship, []byte) {
			stranger := newCA(t, foreignTD, "stranger")
			return fs.rel, marshal(t, newBundle(foreignTD, 1, stranger))
		}},
		{"wrong endpoint SPIFFE ID", func(t *testing.T, fs *foreignSetup) (Relationship, []byte) {
			r := fs.rel
			r.EndpointSPIFFEID = spiffeid.RequireFromString("spiffe://foreign.test/someone-else")
			return r, fs.bootstrap(t)
		}},
		{"endpoint down", func(t *testing.T, fs *foreignSetup) (Relationship, []byte) {
			fs.ep.fail(http.StatusServiceUnavailable)
			return fs.rel, fs.bootstrap(t)
		}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			fs := newForeign(t)
			f := newFixture(t)
			r, boot := tt.setup(t, fs)
			_, err := f.m.Add(t.Context(), admin, r, boot)
			if !errors.Is(err, ErrFetch) {
				t.Fatalf("Add error = %v, want ErrFetch", err)
			}
			t.Logf("Add error: %v", err)
			if n := f.store.len(); n != 0 {
				t.Errorf("store holds %d records after a failed Add, want 0", n)
			}
			if _, err := f.m.GetBundleForTrustDomain(foreignTD); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetBundleForTrustDomain error = %v, want ErrNotFound", err)
			}
			if ev := f.audit.last(t); ev.Type != "federation.added" || ev.Outcome != audit.OutcomeFailure {
				t.Errorf("audit event = %s/%s, want federation.added/failure", ev.Type, ev.Outcome)
			}
		})
	}
}

func TestAddHTTPSWeb(t *testing.T) {
	webCA := newCA(t, spiffeid.TrustDomain{}, "web CA")
	foreignCA := newCA(t, foreignTD, "foreign root")
	ep := newEndpoint(t, webCA.webCert(t), marshal(t, newBundle(foreignTD, 3, foreignCA)))
	rel := Relationship{TrustDomain: foreignTD, BundleEndpointURL: ep.URL(), Profile: ProfileHTTPSWeb}

	tests := []struct {
		name    string
		roots   *testCA // nil: system roots
		wantErr error
	}{
		{"configured roots", webCA, nil},
		{"system roots", nil, ErrFetch},
		{"other roots", newCA(t, spiffeid.TrustDomain{}, "other web CA"), ErrFetch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				if tt.roots != nil {
					c.WebPKIRoots = tt.roots.pool()
				}
			})
			// The bootstrap is ignored for https_web.
			st, err := f.m.Add(t.Context(), admin, rel, []byte("ignored"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Add error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("Add error: %v", err)
			}
			if tt.wantErr != nil {
				if n := f.store.len(); n != 0 {
					t.Errorf("store holds %d records after a failed Add, want 0", n)
				}
				return
			}
			if st.Sequence != 3 || st.X509Authorities != 1 {
				t.Errorf("status = %+v, want sequence 3 and one X.509 authority", st)
			}
		})
	}
}

func TestAddExisting(t *testing.T) {
	tests := []struct {
		name  string
		first func(t *testing.T, f *fixture, fs *foreignSetup)
	}{
		{"added here", func(t *testing.T, f *fixture, fs *foreignSetup) { f.mustAdd(t, fs) }},
		{"added by another replica", func(t *testing.T, f *fixture, fs *foreignSetup) {
			other, err := New(t.Context(), Config{OwnTrustDomain: ownTD, Store: f.store, Auditor: f.audit})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Add(t.Context(), admin, fs.rel, fs.bootstrap(t)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newForeign(t)
			f := newFixture(t)
			tt.first(t, f, fs)
			if _, err := f.m.Add(t.Context(), admin, fs.rel, fs.bootstrap(t)); !errors.Is(err, ErrExists) {
				t.Fatalf("second Add error = %v, want ErrExists", err)
			}
		})
	}
}

func TestAddUndoneWhenAuditFails(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.audit.setFail(errors.New("ledger down"))
	if _, err := f.m.Add(t.Context(), admin, fs.rel, fs.bootstrap(t)); err == nil {
		t.Fatal("Add succeeded with a failing ledger")
	}
	if n := f.store.len(); n != 0 {
		t.Errorf("store holds %d records, want 0", n)
	}
	if got := f.m.Bundles(); len(got) != 0 {
		t.Errorf("Manager holds %d bundles, want 0", len(got))
	}
}

func TestNewLoadsStored(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)

	again, err := New(t.Context(), Config{OwnTrustDomain: ownTD, Store: f.store, Auditor: f.audit})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	want, _ := f.m.List(t.Context())
	got, _ := again.List(t.Context())
	if diff := cmp.Diff(want, got, cmpSPIFFE()); diff != "" {
		t.Errorf("reloaded List (-want +got):\n%s", diff)
	}
	b, err := again.GetBundleForTrustDomain(foreignTD)
	if err != nil {
		t.Fatalf("GetBundleForTrustDomain: %v", err)
	}
	if !b.Equal(f.held(t, foreignTD)) {
		t.Error("reloaded bundle differs")
	}
}
