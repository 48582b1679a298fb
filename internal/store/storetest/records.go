package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

func testBlobs(t *testing.T, s *store.Store) {
	// Steps run in order against one blob; each says what the blob holds
	// afterwards.
	steps := []struct {
		name        string
		data        []byte
		expect      int64
		wantVersion int64 // returned; 0 when an error is wanted
		wantErr     error
		holds       []byte
		holdVersion int64
	}{
		{"create", []byte("v1"), 0, 1, nil, []byte("v1"), 1},
		{"create again", []byte("x"), 0, 0, store.ErrConflict, []byte("v1"), 1},
		{"update", []byte("v2"), 1, 2, nil, []byte("v2"), 2},
		{"stale version", []byte("x"), 1, 0, store.ErrConflict, []byte("v2"), 2},
		{"future version", []byte("x"), 3, 0, store.ErrConflict, []byte("v2"), 2},
		{"negative version", []byte("x"), -1, 0, store.ErrConflict, []byte("v2"), 2},
		{"empty data", nil, 2, 3, nil, nil, 3},
		{"binary data", []byte{0, 0xff, '?', 0}, 3, 4, nil, []byte{0, 0xff, '?', 0}, 4},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			v, err := s.PutBlob(t.Context(), "ca/keys", st.data, st.expect)
			if !wantErr(err, st.wantErr) {
				t.Fatalf("PutBlob(_, %d) error = %v, want %v", st.expect, err, st.wantErr)
			}
			if v != st.wantVersion {
				t.Errorf("PutBlob(_, %d) = %d, want %d", st.expect, v, st.wantVersion)
			}
			data, version, err := s.GetBlob(t.Context(), "ca/keys")
			if err != nil {
				t.Fatalf("GetBlob: %v", err)
			}
			if d := diff("GetBlob data", st.holds, data); d != "" {
				t.Error(d)
			}
			if version != st.holdVersion {
				t.Errorf("GetBlob version = %d, want %d", version, st.holdVersion)
			}
		})
	}
}

func testBlobNotFound(t *testing.T, s *store.Store) {
	if _, err := s.PutBlob(t.Context(), "present", []byte("x"), 0); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if _, _, err := s.GetBlob(t.Context(), "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetBlob(absent) error = %v, want ErrNotFound", err)
	}
	// Updating a blob that does not exist is a version mismatch.
	if _, err := s.PutBlob(t.Context(), "absent", []byte("x"), 1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutBlob(absent, 1) error = %v, want ErrConflict", err)
	}
	if _, _, err := s.GetBlob(t.Context(), "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetBlob(absent) after a failed put: error = %v, want ErrNotFound", err)
	}
}

func newFederation(td string) store.Federation {
	return store.Federation{
		TrustDomain:       td,
		BundleEndpointURL: "https://" + td + "/bundle",
		Profile:           "https_spiffe",
		EndpointSPIFFEID:  "spiffe://" + td + "/bundle-server",
		Bundle:            []byte(`{"keys":[]}`),
		Sequence:          math.MaxUint64,
		NextRefresh:       t0.Add(5 * time.Minute),
		LastError:         "dial tcp: connection refused",
		CreatedAt:         t0,
		UpdatedAt:         t0,
	}
}

func normFederation(f store.Federation) store.Federation {
	f.LastRefresh = norm(f.LastRefresh)
	f.NextRefresh = norm(f.NextRefresh)
	f.CreatedAt = norm(f.CreatedAt)
	f.UpdatedAt = norm(f.UpdatedAt)
	return f
}

func testFederations(t *testing.T, s *store.Store) {
	ctx := t.Context()
	list := func(t *testing.T) []store.Federation {
		t.Helper()
		got, err := s.ListFederations(ctx)
		if err != nil {
			t.Fatalf("ListFederations: %v", err)
		}
		return got
	}
	if got := list(t); got != nil {
		t.Errorf("ListFederations on an empty store = %v, want nil", got)
	}

	// Names chosen so that bytewise order differs from a case-folding one.
	b, upperA, a := newFederation("b.example"), newFederation("A.example"), newFederation("a.example")
	a.Profile, a.EndpointSPIFFEID, a.Bundle, a.Sequence, a.LastError = "https_web", "", nil, 0, ""
	for _, f := range []store.Federation{b, upperA, a} {
		if err := s.PutFederation(ctx, f); err != nil {
			t.Fatalf("PutFederation(%s): %v", f.TrustDomain, err)
		}
	}
	got, err := s.GetFederation(ctx, "a.example")
	if err != nil {
		t.Fatalf("GetFederation: %v", err)
	}
	if d := diff("GetFederation", normFederation(a), got); d != "" {
		t.Error(d)
	}
	want := []store.Federation{normFederation(upperA), normFederation(a), normFederation(b)}
	if d := diff("ListFederations", want, list(t)); d != "" {
		t.Error(d)
	}

	// A second put replaces everything but CreatedAt.
	b2 := b
	b2.Bundle = []byte(`{"keys":[{"kty":"EC"}]}`)
	b2.Sequence = 7
	b2.LastRefresh = t0.Add(time.Hour)
	b2.LastError = ""
	b2.CreatedAt = t0.Add(time.Hour)
	b2.UpdatedAt = t0.Add(time.Hour)
	if err := s.PutFederation(ctx, b2); err != nil {
		t.Fatalf("PutFederation again: %v", err)
	}
	wantB := normFederation(b2)
	wantB.CreatedAt = norm(b.CreatedAt)
	got, err = s.GetFederation(ctx, "b.example")
	if err != nil {
		t.Fatalf("GetFederation: %v", err)
	}
	if d := diff("GetFederation after a second put", wantB, got); d != "" {
		t.Error(d)
	}

	if err := s.DeleteFederation(ctx, "A.example"); err != nil {
		t.Fatalf("DeleteFederation: %v", err)
	}
	want = []store.Federation{normFederation(a), wantB}
	if d := diff("ListFederations after delete", want, list(t)); d != "" {
		t.Error(d)
	}
}

func testFederationNotFound(t *testing.T, s *store.Store) {
	if err := s.PutFederation(t.Context(), newFederation("present.example")); err != nil {
		t.Fatalf("PutFederation: %v", err)
	}
	for _, td := range []string{"absent.example", "PRESENT.example"} {
		if _, err := s.GetFederation(t.Context(), td); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetFederation(%s) error = %v, want ErrNotFound", td, err)
		}
		if err := s.DeleteFederation(t.Context(), td); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteFederation(%s) error = %v, want ErrNotFound", td, err)
		}
	}
}

func testAdminCredentials(t *testing.T, s *store.Store) {
	ctx := t.Context()
	count := func(t *testing.T, want int) {
		t.Helper()
		n, err := s.CountAdminCredentials(ctx)
		if err != nil {
			t.Fatalf("CountAdminCredentials: %v", err)
		}
		if n != want {
			t.Errorf("CountAdminCredentials() = %d, want %d", n, want)
		}
	}
	count(t, 0)
	c1 := store.AdminCredential{ID: "ak_1", Hash: []byte{1, 2, 3}, Name: "bootstrap", CreatedAt: t0}
	c2 := store.AdminCredential{ID: "ak_2", Hash: []byte{4}, Name: "ci"}
	for _, c := range []store.AdminCredential{c1, c2} {
		if err := s.CreateAdminCredential(ctx, c); err != nil {
			t.Fatalf("CreateAdminCredential(%s): %v", c.ID, err)
		}
	}
	count(t, 2)

	dup := c1
	dup.Hash = []byte{9}
	if err := s.CreateAdminCredential(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateAdminCredential(duplicate) error = %v, want ErrConflict", err)
	}
	count(t, 2)

	got, err := s.GetAdminCredential(ctx, "ak_1")
	if err != nil {
		t.Fatalf("GetAdminCredential: %v", err)
	}
	want := c1
	want.CreatedAt = norm(c1.CreatedAt)
	if d := diff("GetAdminCredential", want, got); d != "" {
		t.Error(d)
	}
	if _, err := s.GetAdminCredential(ctx, "ak_3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAdminCredential(absent) error = %v, want ErrNotFound", err)
	}
}

func testTimeRoundTrip(t *testing.T, s *store.Store) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{"nanoseconds in a zone", t0},
		{"whole microseconds in UTC", time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)},
		{"local zone", time.Date(2030, 6, 1, 12, 0, 0, 1500, time.Local)},
		{"before the Unix epoch", time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC)},
		{"the Unix epoch", time.Unix(0, 0)},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"zero", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			want := norm(tc.t)
			check := func(what string, got time.Time) {
				t.Helper()
				if !got.Equal(want) || got.IsZero() != want.IsZero() {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
				if !got.IsZero() && got.Location() != time.UTC {
					t.Errorf("%s is in %v, want UTC", what, got.Location())
				}
			}

			e := newEntry("time " + tc.name)
			e.CreatedAt, e.UpdatedAt = tc.t, tc.t
			mustCreateEntry(t, s, e)
			got := mustGetEntry(t, s, e.ID)
			check("Entry.CreatedAt", got.CreatedAt)
			check("Entry.UpdatedAt", got.UpdatedAt)

			f := newFederation(tc.name)
			f.LastRefresh, f.NextRefresh, f.CreatedAt, f.UpdatedAt = tc.t, tc.t, tc.t, tc.t
			if err := s.PutFederation(ctx, f); err != nil {
				t.Fatalf("PutFederation: %v", err)
			}
			gotF, err := s.GetFederation(ctx, f.TrustDomain)
			if err != nil {
				t.Fatalf("GetFederation: %v", err)
			}
			check("Federation.LastRefresh", gotF.LastRefresh)
			check("Federation.NextRefresh", gotF.NextRefresh)
			check("Federation.CreatedAt", gotF.CreatedAt)

			c := store.AdminCredential{ID: tc.name, Hash: []byte{1}, CreatedAt: tc.t}
			if err := s.CreateAdminCredential(ctx, c); err != nil {
				t.Fatalf("CreateAdminCredential: %v", err)
			}
			gotC, err := s.GetAdminCredential(ctx, c.ID)
			if err != nil {
				t.Fatalf("GetAdminCredential: %v", err)
			}
			check("AdminCredential.CreatedAt", gotC.CreatedAt)

			ev := mustAppendEvent(t, s, store.Event{Time: tc.t, Type: tc.name})
			evs, err := s.ListEvents(ctx, store.EventFilter{After: ev.Index - 1, Limit: 1})
			if err != nil || len(evs) != 1 {
				t.Fatalf("ListEvents = %d events, %v; want 1", len(evs), err)
			}
			check("Event.Time", evs[0].Time)
		})
	}
}
