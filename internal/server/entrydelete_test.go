package server

import (
	"net/http"
	"testing"

	"github.com/kith-dev/kith/api"
)

// TestDeleteEntryWithClients: an entry that OAuth clients act for is not
// deleted from under them (409 naming them); with cascade=true they are
// deleted first, and the answer names them.
func TestDeleteEntryWithClients(t *testing.T) {
	e := newOAuthEnv(t)
	cs := e.createClient(t, api.ClientCreate{EntryID: e.entry.ID, Scopes: []string{"orders:read"}, Audiences: []string{"spiffe://example.org/billing"}})
	var p api.Problem
	if code := e.do(t, "DELETE", "/v1/entries/"+e.entry.ID, e.token, nil, &p); code != http.StatusConflict {
		t.Fatalf("DELETE an entry with a client: %d %+v, want 409", code, p)
	}
	if code := e.do(t, "GET", "/v1/clients/"+cs.Client.ID, e.token, nil, nil); code != http.StatusOK {
		t.Fatalf("the client after a refused delete: %d", code)
	}
	if code := e.do(t, "DELETE", "/v1/entries/"+e.entry.ID+"?cascade=maybe", e.token, nil, nil); code != http.StatusBadRequest {
		t.Errorf("cascade=maybe: %d, want 400", code)
	}
	var del api.EntryDeletion
	if code := e.do(t, "DELETE", "/v1/entries/"+e.entry.ID+"?cascade=true", e.token, nil, &del); code != http.StatusOK ||
		del.ID != e.entry.ID || len(del.DeletedClients) != 1 || del.DeletedClients[0] != cs.Client.ID {
		t.Fatalf("DELETE with cascade: %d %+v", code, del)
	}
	for _, path := range []string{"/v1/clients/" + cs.Client.ID, "/v1/entries/" + e.entry.ID} {
		if code := e.do(t, "GET", path, e.token, nil, nil); code != http.StatusNotFound {
			t.Errorf("GET %s after the cascade: %d, want 404", path, code)
		}
	}
	if evs := e.events(t, "oauth.client.deleted", "success"); len(evs) != 1 {
		t.Errorf("%d oauth.client.deleted events, want 1", len(evs))
	}
}
