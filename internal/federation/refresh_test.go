package federation

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestRefreshAfterRootRotation(t *testing.T) {
	tests := []struct {
		name      string
		announced bool // root B was published before the endpoint switched to it
		wantErr   error
	}{
		{"new root announced first", true, nil},
		{"new root never announced", false, ErrFetch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newForeign(t)
			f := newFixture(t)
			rootB := newCA(t, foreignTD, "foreign root B")
			if tt.announced {
				// Step 1: the foreign domain publishes A and B; the endpoint
				// still presents an SVID from A, which the bootstrap trusts.
				fs.ep.setBody(marshal(t, newBundle(foreignTD, 2, fs.ca, rootB)))
			}
			f.mustAdd(t, fs)

			// Step 2: A is retired; the endpoint presents an SVID from B.
			// Only the bundle held since step 1 (not the bootstrap) trusts B.
			after := newBundle(foreignTD, 3, rootB)
			fs.ep.set(rootB.svid(t, endpointID), marshal(t, after))
			before := f.held(t, foreignTD)

			st, err := f.m.Refresh(t.Context(), foreignTD)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Refresh error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if !f.held(t, foreignTD).Equal(before) {
					t.Error("a failed refresh replaced the held bundle")
				}
				if st.LastError == "" {
					t.Error("LastError not set after a failed refresh")
				}
				return
			}
			if !f.held(t, foreignTD).Equal(after) {
				t.Error("held bundle is not the rotated one")
			}
			if st.Sequence != 3 || st.LastError != "" {
				t.Errorf("status = %+v, want sequence 3 and no error", st)
			}
			if ev := f.audit.last(t); ev.Type != "federation.bundle.refreshed" || ev.Actor != audit.SystemActor() ||
				ev.Details["previous_sequence"] != "2" || ev.Details["sequence"] != "3" {
				t.Errorf("audit event = %+v, want federation.bundle.refreshed from 2 to 3 by the system", ev)
			}
		})
	}
}

func TestRefreshRefusesBadBundles(t *testing.T) {
	tests := []struct {
		name   string
		bundle func(t *testing.T, fs *foreignSetup) []byte
		want   error
	}{
		{"bundle of another trust domain", func(t *testing.T, fs *foreignSetup) []byte {
			// Served for foreign.test, but its root is other.test's.
			otherTD := spiffeid.RequireTrustDomainFromString("other.test")
			return marshal(t, newBundle(otherTD, 5, fs.ca, newCA(t, otherTD, "other root")))
		}, ErrBundleRejected},
		{"sequence goes backwards", func(t *testing.T, fs *foreignSetup) []byte {
			return marshal(t, newBundle(foreignTD, 0, fs.ca))
		}, ErrBundleRejected},
		{"sequence dropped", func(t *testing.T, fs *foreignSetup) []byte {
			b := newBundle(foreignTD, 0, fs.ca)
			b.ClearSequenceNumber()
			return marshal(t, b)
		}, ErrBundleRejected},
		{"no authorities", func(t *testing.T, fs *foreignSetup) []byte {
			return marshal(t, spiffebundle.New(foreignTD))
		}, ErrFetch}, // go-spiffe refuses to parse it
		{"not a bundle", func(t *testing.T, fs *foreignSetup) []byte {
			return []byte("<html>maintenance</html>")
		}, ErrFetch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newForeign(t)
			f := newFixture(t)
			f.mustAdd(t, fs)
			before := f.held(t, foreignTD)
			fs.ep.setBody(tt.bundle(t, fs))

			st, err := f.m.Refresh(t.Context(), foreignTD)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Refresh error = %v, want %v", err, tt.want)
			}
			t.Logf("Refresh error: %v", err)
			if !f.held(t, foreignTD).Equal(before) {
				t.Error("a rejected bundle replaced the held one")
			}
			rec, _ := f.store.get(t, "foreign.test")
			stored, perr := parseBundle(foreignTD, rec.Bundle)
			if perr != nil || !stored.Equal(before) {
				t.Errorf("stored bundle changed after a rejection (parse error %v)", perr)
			}
			if st.LastError == "" || rec.LastError == "" {
				t.Errorf("LastError = %q, stored %q; want both set", st.LastError, rec.LastError)
			}
			if ev := f.audit.last(t); ev.Type != "federation.refresh.failed" || ev.Outcome != audit.OutcomeFailure {
				t.Errorf("audit event = %s/%s, want federation.refresh.failed/failure", ev.Type, ev.Outcome)
			}
		})
	}
}

func TestRefreshBacksOffAndRecovers(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)
	good := f.held(t, foreignTD)
	fs.ep.fail(http.StatusInternalServerError)

	for failures := 1; failures <= 4; failures++ {
		now := f.clock.Now()
		st, err := f.m.Refresh(t.Context(), foreignTD)
		if !errors.Is(err, ErrFetch) {
			t.Fatalf("failure %d: Refresh error = %v, want ErrFetch", failures, err)
		}
		full := backoffBase << (failures - 1)
		if lo, hi := now.Add(full/2), now.Add(full); st.NextRefresh.Before(lo) || st.NextRefresh.After(hi) {
			t.Errorf("failure %d: NextRefresh = now+%v, want within [%v, %v]", failures, st.NextRefresh.Sub(now), full/2, full)
		}
		if st.LastError == "" {
			t.Errorf("failure %d: LastError is empty", failures)
		}
		if ev := f.audit.last(t); ev.Type != "federation.refresh.failed" || ev.Details["failures"] != itoa(failures) {
			t.Errorf("failure %d: audit event = %s %v", failures, ev.Type, ev.Details)
		}
		if !f.held(t, foreignTD).Equal(good) {
			t.Fatalf("failure %d: last good bundle was dropped", failures)
		}
		f.clock.Advance(time.Minute)
	}

	fs.ep.setBody(marshal(t, newBundle(foreignTD, 1, fs.ca)))
	now := f.clock.Now()
	st, err := f.m.Refresh(t.Context(), foreignTD)
	if err != nil {
		t.Fatalf("Refresh after recovery: %v", err)
	}
	if st.LastError != "" || !st.LastRefresh.Equal(now) || !st.NextRefresh.Equal(now.Add(defaultRefresh)) {
		t.Errorf("status after recovery = %+v, want no error, refreshed now, next in %v", st, defaultRefresh)
	}
	// Unchanged content: no refreshed event.
	if ev := f.audit.last(t); ev.Type == "federation.bundle.refreshed" {
		t.Errorf("an unchanged bundle was audited as refreshed")
	}
	// The failure count was reset: the next failure backs off from the base.
	fs.ep.fail(http.StatusInternalServerError)
	st, _ = f.m.Refresh(t.Context(), foreignTD)
	if d := st.NextRefresh.Sub(now); d > backoffBase {
		t.Errorf("first failure after recovery backs off %v, want at most %v", d, backoffBase)
	}
}

func TestRefreshAuditsOnlyChanges(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)
	rootB := newCA(t, foreignTD, "foreign root B")

	steps := []struct {
		name        string
		bundle      *spiffebundle.Bundle
		wantAudited bool
	}{
		{"same bundle", newBundle(foreignTD, 1, fs.ca), false},
		{"new refresh hint only", func() *spiffebundle.Bundle {
			b := newBundle(foreignTD, 1, fs.ca)
			b.SetRefreshHint(time.Minute)
			return b
		}(), false},
		{"sequence and root added", newBundle(foreignTD, 2, fs.ca, rootB), true},
		{"same again", newBundle(foreignTD, 2, fs.ca, rootB), false},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			fs.ep.setBody(marshal(t, step.bundle))
			n := len(f.audit.types())
			if _, err := f.m.Refresh(t.Context(), foreignTD); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			got := f.audit.types()[n:]
			audited := len(got) == 1 && got[0] == "federation.bundle.refreshed"
			if audited != step.wantAudited || len(got) > 1 {
				t.Errorf("audited %v, want refreshed event: %v", got, step.wantAudited)
			}
		})
	}
}

func TestRefreshEndpointInAnotherTrustDomain(t *testing.T) {
	// foreign.test's bundle is served by an endpoint of hub.test.
	hubTD := spiffeid.RequireTrustDomainFromString("hub.test")
	hubCA := newCA(t, hubTD, "hub root")
	hubID := spiffeid.RequireFromPath(hubTD, "/bundle-endpoint")
	foreignCA := newCA(t, foreignTD, "foreign root")
	ep := newEndpoint(t, hubCA.svid(t, hubID), marshal(t, newBundle(foreignTD, 1, foreignCA)))
	f := newFixture(t)
	rel := Relationship{TrustDomain: foreignTD, BundleEndpointURL: ep.URL(), Profile: ProfileHTTPSSPIFFE, EndpointSPIFFEID: hubID}

	// The bootstrap is hub.test's bundle.
	if _, err := f.m.Add(t.Context(), admin, rel, marshal(t, newBundle(hubTD, 1, hubCA))); err != nil {
		t.Fatalf("Add: %v", err)
	}
	// Refreshes need a bundle held for hub.test.
	_, err := f.m.Refresh(t.Context(), foreignTD)
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), `"hub.test"`) {
		t.Fatalf("Refresh without hub.test federated: error = %v, want ErrFetch naming hub.test", err)
	}

	hubEP := newEndpoint(t, hubCA.svid(t, hubID), marshal(t, newBundle(hubTD, 1, hubCA)))
	hubRel := Relationship{TrustDomain: hubTD, BundleEndpointURL: hubEP.URL(), Profile: ProfileHTTPSSPIFFE, EndpointSPIFFEID: hubID}
	if _, err := f.m.Add(t.Context(), admin, hubRel, marshal(t, newBundle(hubTD, 1, hubCA))); err != nil {
		t.Fatalf("Add hub.test: %v", err)
	}
	if _, err := f.m.Refresh(t.Context(), foreignTD); err != nil {
		t.Fatalf("Refresh with hub.test federated: %v", err)
	}
	// The bundles stay apart.
	if got := f.held(t, foreignTD).X509Authorities(); len(got) != 1 || !got[0].Equal(foreignCA.cert) {
		t.Errorf("foreign.test bundle holds %d authorities, want only foreign.test's root", len(got))
	}
	if got := f.held(t, hubTD).X509Authorities(); len(got) != 1 || !got[0].Equal(hubCA.cert) {
		t.Errorf("hub.test bundle holds %d authorities, want only hub.test's root", len(got))
	}
}

func TestRefreshNeverGoesBackwardsInStore(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)

	// Another replica stored sequence 5; this one still holds 1, and the
	// endpoint it reaches serves 4.
	newer := newBundle(foreignTD, 5, fs.ca, newCA(t, foreignTD, "root 5"))
	rec, _ := f.store.get(t, "foreign.test")
	rec.Bundle, rec.Sequence = marshal(t, newer), 5
	if err := f.store.PutFederation(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	fs.ep.setBody(marshal(t, newBundle(foreignTD, 4, fs.ca)))
	n := len(f.audit.types())

	st, err := f.m.Refresh(t.Context(), foreignTD)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	rec, _ = f.store.get(t, "foreign.test")
	if rec.Sequence != 5 || st.Sequence != 5 {
		t.Errorf("stored sequence %d, held %d; want 5 for both", rec.Sequence, st.Sequence)
	}
	if !f.held(t, foreignTD).Equal(newer) {
		t.Error("the newer stored bundle was not adopted")
	}
	if got := f.audit.types()[n:]; len(got) != 0 {
		t.Errorf("audited %v; the other replica's change is not this one's to record", got)
	}
}

func TestRefreshRemovedByAnotherReplica(t *testing.T) {
	fs := newForeign(t)
	f := newFixture(t)
	f.mustAdd(t, fs)
	if err := f.store.DeleteFederation(t.Context(), "foreign.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Refresh(t.Context(), foreignTD); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Refresh error = %v, want ErrNotFound", err)
	}
	if f.store.len() != 0 {
		t.Error("Refresh brought a removed relationship back into the store")
	}
	if _, err := f.m.GetBundleForTrustDomain(foreignTD); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBundleForTrustDomain error = %v, want ErrNotFound", err)
	}
}

func TestRefreshUnknown(t *testing.T) {
	f := newFixture(t)
	if _, err := f.m.Refresh(t.Context(), foreignTD); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Refresh error = %v, want ErrNotFound", err)
	}
}
