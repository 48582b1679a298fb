package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

// newOAuthClient returns a client with every field set, unique to id.
func newOAuthClient(id, entryID string) store.OAuthClient {
	return store.OAuthClient{
		ID:          id,
		EntryID:     entryID,
		AuthMethod:  "client_secret_basic",
		Scopes:      []string{"orders:read", "orders:write"},
		Audiences:   []string{"spiffe://example.org/orders", "https://api.example.org"},
		Description: "client " + id,
		Secrets: []store.OAuthClientSecret{
			{ID: "s1", Hash: []byte{1, 2, 3}, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{ID: "s2", Hash: []byte{4, 5, 6}, CreatedAt: t0.Add(time.Minute)},
		},
		Keys: []store.OAuthClientKey{
			{KeyID: "k1", JWK: []byte(`{"kty":"EC"}`), CreatedAt: t0},
			{KeyID: "k2", JWK: []byte(`{"kty":"OKP"}`), CreatedAt: t0},
		},
		CreatedAt: t0,
		UpdatedAt: t0.Add(time.Second),
	}
}

// normOAuthClient returns c as the store gives it back.
func normOAuthClient(c store.OAuthClient) store.OAuthClient {
	c.CreatedAt, c.UpdatedAt = norm(c.CreatedAt), norm(c.UpdatedAt)
	secrets := c.Secrets
	c.Secrets = nil
	for _, s := range secrets {
		s.CreatedAt, s.ExpiresAt = norm(s.CreatedAt), norm(s.ExpiresAt)
		c.Secrets = append(c.Secrets, s)
	}
	keys := c.Keys
	c.Keys = nil
	for _, k := range keys {
		k.CreatedAt = norm(k.CreatedAt)
		c.Keys = append(c.Keys, k)
	}
	return c
}

func mustCreateOAuthClient(t testing.TB, s *store.Store, c store.OAuthClient) store.OAuthClient {
	t.Helper()
	if err := s.CreateOAuthClient(t.Context(), &c); err != nil {
		t.Fatalf("CreateOAuthClient(%q): %v", c.ID, err)
	}
	return c
}

func testOAuthClientRoundTrip(t *testing.T, s *store.Store) {
	tests := []struct {
		name   string
		client store.OAuthClient
		want   store.OAuthClient
	}{
		{"every field", newOAuthClient("full", "e1"), normOAuthClient(newOAuthClient("full", "e1"))},
		{"zero values", store.OAuthClient{ID: "zero"}, store.OAuthClient{ID: "zero"}},
		{
			"empty collections read back nil",
			store.OAuthClient{ID: "empty", Scopes: []string{}, Audiences: []string{}, Secrets: []store.OAuthClientSecret{}},
			store.OAuthClient{ID: "empty"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCreateOAuthClient(t, s, tc.client)
			if c.Version != 1 {
				t.Errorf("CreateOAuthClient set Version %d, want 1", c.Version)
			}
			got, err := s.GetOAuthClient(t.Context(), tc.client.ID)
			if err != nil {
				t.Fatalf("GetOAuthClient: %v", err)
			}
			want := tc.want
			want.Version = 1
			if d := diff("GetOAuthClient", want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func testOAuthClientErrors(t *testing.T, s *store.Store) {
	mustCreateOAuthClient(t, s, newOAuthClient("c1", "e1"))
	dupSecret := newOAuthClient("c2", "e1")
	dupSecret.Secrets[1].ID = dupSecret.Secrets[0].ID
	dupKey := newOAuthClient("c3", "e1")
	dupKey.Keys[1].KeyID = dupKey.Keys[0].KeyID
	tests := []struct {
		name   string
		client store.OAuthClient
	}{
		{"same ID", newOAuthClient("c1", "e2")},
		{"two secrets with one ID", dupSecret},
		{"two keys with one ID", dupKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			if err := s.CreateOAuthClient(t.Context(), &c); !errors.Is(err, store.ErrConflict) {
				t.Errorf("CreateOAuthClient error = %v, want ErrConflict", err)
			}
		})
	}
	// The failed creates left nothing behind.
	for _, id := range []string{"c2", "c3", "absent"} {
		if _, err := s.GetOAuthClient(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetOAuthClient(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	if err := s.DeleteOAuthClient(t.Context(), "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteOAuthClient(absent) error = %v, want ErrNotFound", err)
	}
}

func testUpdateOAuthClient(t *testing.T, s *store.Store) {
	c := mustCreateOAuthClient(t, s, newOAuthClient("c", "e1"))
	created := norm(c.CreatedAt)

	c.EntryID = "e2"
	c.Scopes = []string{"orders:read"}
	c.Audiences = nil
	c.CreatedAt = t0.Add(time.Hour) // ignored
	c.UpdatedAt = t0.Add(2 * time.Hour)
	c.Secrets = c.Secrets[1:]
	c.Secrets = append(c.Secrets, store.OAuthClientSecret{ID: "s3", Hash: []byte{7}, CreatedAt: t0.Add(time.Hour)})
	c.Keys = nil
	if err := s.UpdateOAuthClient(t.Context(), &c); err != nil {
		t.Fatalf("UpdateOAuthClient: %v", err)
	}
	if c.Version != 2 || !c.CreatedAt.Equal(created) {
		t.Errorf("after update: Version %d, CreatedAt %v; want 2, %v", c.Version, c.CreatedAt, created)
	}
	got, err := s.GetOAuthClient(t.Context(), "c")
	if err != nil {
		t.Fatalf("GetOAuthClient: %v", err)
	}
	if d := diff("GetOAuthClient after update", normOAuthClient(c), got); d != "" {
		t.Error(d)
	}

	stale := c
	stale.Version = 1
	stale.Description = "lost update"
	if err := s.UpdateOAuthClient(t.Context(), &stale); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateOAuthClient with a stale version: error = %v, want ErrConflict", err)
	}
	missing := c
	missing.ID = "absent"
	if err := s.UpdateOAuthClient(t.Context(), &missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateOAuthClient(absent) error = %v, want ErrNotFound", err)
	}
	dup := c
	dup.Keys = []store.OAuthClientKey{{KeyID: "k"}, {KeyID: "k"}}
	if err := s.UpdateOAuthClient(t.Context(), &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateOAuthClient with two keys of one ID: error = %v, want ErrConflict", err)
	}
	// Neither failed update changed anything.
	again, err := s.GetOAuthClient(t.Context(), "c")
	if err != nil {
		t.Fatalf("GetOAuthClient: %v", err)
	}
	if d := diff("GetOAuthClient after failed updates", got, again); d != "" {
		t.Error(d)
	}
}

func testDeleteOAuthClient(t *testing.T, s *store.Store) {
	mustCreateOAuthClient(t, s, newOAuthClient("gone", "e1"))
	if err := s.DeleteOAuthClient(t.Context(), "gone"); err != nil {
		t.Fatalf("DeleteOAuthClient: %v", err)
	}
	if _, err := s.GetOAuthClient(t.Context(), "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOAuthClient after delete: error = %v, want ErrNotFound", err)
	}
	// A new client with the same ID starts without the old secrets and keys.
	fresh := mustCreateOAuthClient(t, s, store.OAuthClient{ID: "gone", EntryID: "e1"})
	got, err := s.GetOAuthClient(t.Context(), "gone")
	if err != nil {
		t.Fatalf("GetOAuthClient: %v", err)
	}
	if d := diff("recreated client", normOAuthClient(fresh), got); d != "" {
		t.Error(d)
	}
}

func testListOAuthClients(t *testing.T, s *store.Store) {
	for i := range 5 {
		entry := "e-odd"
		if i%2 == 0 {
			entry = "e-even"
		}
		mustCreateOAuthClient(t, s, newOAuthClient(fmt.Sprintf("c%d", i), entry))
	}
	ids := func(cs []store.OAuthClient) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.OAuthClientFilter
		want []string
	}{
		{"all", store.OAuthClientFilter{}, []string{"c0", "c1", "c2", "c3", "c4"}},
		{"by entry", store.OAuthClientFilter{EntryID: "e-even"}, []string{"c0", "c2", "c4"}},
		{"page", store.OAuthClientFilter{After: "c1", Limit: 2}, []string{"c2", "c3"}},
		{"entry and page", store.OAuthClientFilter{EntryID: "e-odd", After: "c1"}, []string{"c3"}},
		{"past the end", store.OAuthClientFilter{After: "c4"}, nil},
		{"no such entry", store.OAuthClientFilter{EntryID: "e-none"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListOAuthClients(t.Context(), tc.f)
			if err != nil {
				t.Fatalf("ListOAuthClients: %v", err)
			}
			if d := diff("client IDs", tc.want, ids(got)); d != "" {
				t.Error(d)
			}
			for _, c := range got {
				if len(c.Secrets) != 2 || len(c.Keys) != 2 {
					t.Errorf("client %s listed with %d secrets and %d keys, want 2 and 2", c.ID, len(c.Secrets), len(c.Keys))
				}
			}
		})
	}
}

func testOAuthClientInTx(t *testing.T, s *store.Store) {
	err := s.Tx(t.Context(), func(tx *store.Tx) error {
		c := newOAuthClient("tx", "e1")
		if err := tx.CreateOAuthClient(t.Context(), &c); err != nil {
			return err
		}
		// A failed write inside the Tx leaves it usable.
		dup := newOAuthClient("tx", "e1")
		if err := tx.CreateOAuthClient(t.Context(), &dup); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("duplicate create in Tx: %v, want ErrConflict", err)
		}
		listed, err := tx.ListOAuthClients(t.Context(), store.OAuthClientFilter{})
		if err != nil {
			return err
		}
		if len(listed) != 1 || len(listed[0].Secrets) != 2 {
			return fmt.Errorf("ListOAuthClients in Tx = %+v, want the one client with its secrets", listed)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx error = %v, want errBoom", err)
	}
	if _, err := s.GetOAuthClient(t.Context(), "tx"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOAuthClient after rollback: error = %v, want ErrNotFound", err)
	}
}

func testFindOAuthClientSecret(t *testing.T, s *store.Store) {
	mustCreateOAuthClient(t, s, newOAuthClient("c1", "e1")) // secrets s1 {1,2,3} and s2 {4,5,6}
	other := newOAuthClient("c2", "e1")
	other.Secrets = []store.OAuthClientSecret{{ID: "s1", Hash: []byte{7, 8, 9}, CreatedAt: t0}}
	mustCreateOAuthClient(t, s, other)
	tests := []struct {
		name             string
		hash             []byte
		client, secretID string
		err              error
	}{
		{"first secret", []byte{1, 2, 3}, "c1", "s1", nil},
		{"second secret", []byte{4, 5, 6}, "c1", "s2", nil},
		{"another client's", []byte{7, 8, 9}, "c2", "s1", nil},
		{"unknown", []byte{1, 2, 4}, "", "", store.ErrNotFound},
		{"a prefix is not a match", []byte{1, 2}, "", "", store.ErrNotFound},
		{"empty", nil, "", "", store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, id, err := s.FindOAuthClientSecret(t.Context(), tc.hash)
			if client != tc.client || id != tc.secretID || !errors.Is(err, tc.err) {
				t.Errorf("FindOAuthClientSecret = %q, %q, %v; want %q, %q, %v", client, id, err, tc.client, tc.secretID, tc.err)
			}
		})
	}
	// A rotation that drops a secret drops it from the lookup.
	c, err := s.GetOAuthClient(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	c.Secrets = c.Secrets[1:]
	if err := s.UpdateOAuthClient(t.Context(), &c); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.FindOAuthClientSecret(t.Context(), []byte{1, 2, 3}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a removed secret: %v, want ErrNotFound", err)
	}
	err = s.Tx(t.Context(), func(tx *store.Tx) error {
		client, _, err := tx.FindOAuthClientSecret(t.Context(), []byte{4, 5, 6})
		if client != "c1" {
			return fmt.Errorf("in a Tx: %q, %v", client, err)
		}
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
