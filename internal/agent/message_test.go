package agent

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	"github.com/kith-dev/kith/internal/agentproto"
)

// testBatch returns a fake server, a signed revocation batch and the batch.
func testBatch(tb testing.TB) (*fakeServer, string, agentproto.RevocationBatch) {
	clock := newTestClock()
	fs := newFakeServer(tb, clock)
	batch := agentproto.RevocationBatch{Revision: 2, Full: true, IssuedAt: clock.Now().UTC(), Entries: []agentproto.Revocation{
		{Kind: "spiffe_id", Value: "spiffe://example.org/web", RevokedAt: clock.Now().UTC(), Revision: 1},
		{Kind: "jti", Value: "t-1", RevokedAt: clock.Now().UTC(), ExpiresAt: clock.Now().Add(time.Hour).UTC(), Revision: 2},
	}}
	return fs, fs.signRevocations(batch), batch
}

func TestParseMessage(t *testing.T) {
	fs, jws, batch := testBatch(t)
	bundle := fs.bundle()
	raw := fs.bundleJSON()
	partner, err := newTestCA(t, "partner.org", fs.clock).Bundle().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	other := newTestCA(t, "example.org", fs.clock).Bundle()
	entry := agentproto.Entry{ID: "e1", SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1"}, Status: "active"}
	tests := []struct {
		name        string
		msg         agentproto.Message
		held        *spiffebundle.Bundle
		wantErr     bool
		wantEntries int
		wantFed     int
		wantSkipped int
	}{
		{"full state", agentproto.Message{Revision: 1, Full: true, Entries: []agentproto.Entry{entry}, Bundle: raw,
			Federated: map[string]json.RawMessage{"partner.org": partner}, Revocations: jws}, nil, false, 1, 1, 0},
		{"revocations checked against the held bundle", agentproto.Message{Revision: 2, Revocations: jws}, bundle, false, 0, 0, 0},
		{"revocations signed by another CA", agentproto.Message{Revision: 2, Revocations: jws}, other, true, 0, 0, 0},
		{"revocations before any bundle", agentproto.Message{Revision: 2, Revocations: jws}, nil, true, 0, 0, 0},
		{"tampered revocations", agentproto.Message{Revision: 2, Revocations: jws[:len(jws)-6] + "AAAAAA"}, bundle, true, 0, 0, 0},
		{"bundle that is not JSON", agentproto.Message{Revision: 2, Bundle: json.RawMessage(`"x"`)}, bundle, true, 0, 0, 0},
		{"own trust domain as federated", agentproto.Message{Revision: 2, Federated: map[string]json.RawMessage{"example.org": raw}}, bundle, false, 0, 0, 1},
		{"foreign entry", agentproto.Message{Revision: 2, Entries: []agentproto.Entry{{ID: "e2", SPIFFEID: "spiffe://evil.org/web", Selectors: []string{"unix:uid:1"}}}}, bundle, false, 0, 0, 1},
		{"entry without selectors", agentproto.Message{Revision: 2, Entries: []agentproto.Entry{{ID: "e3", SPIFFEID: "spiffe://example.org/web"}}}, bundle, false, 0, 0, 1},
		{"negative revision", agentproto.Message{Revision: -1}, bundle, true, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseMessage(tt.msg, fs.td, tt.held)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMessage = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(u.entries) != tt.wantEntries || len(u.federated) != tt.wantFed || len(u.skipped) != tt.wantSkipped {
				t.Errorf("update: %d entries, %d federated, skipped %q; want %d, %d, %d",
					len(u.entries), len(u.federated), u.skipped, tt.wantEntries, tt.wantFed, tt.wantSkipped)
			}
			if tt.msg.Revocations != "" {
				if diff := cmp.Diff(&batch, u.revs); diff != "" {
					t.Errorf("revocations (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// FuzzParseMessage feeds arbitrary messages, revocation batches
// included, to the checks the agent applies before trusting them: they
// must not panic, and a batch that verifies must be the one the server
// signed.
func FuzzParseMessage(f *testing.F) {
	fs, jws, batch := testBatch(f)
	bundle := fs.bundle()
	f.Add(mustJSON(f, agentproto.Message{Revision: 1, Full: true, Bundle: fs.bundleJSON(), Revocations: jws}))
	f.Add(mustJSON(f, agentproto.Message{Revision: 2, Revocations: jws}))
	f.Add(mustJSON(f, agentproto.Message{Revision: 3, Revocations: jws[:40]}))
	f.Add(mustJSON(f, agentproto.Message{Revision: 4, Entries: []agentproto.Entry{{ID: "e", SPIFFEID: "spiffe://example.org/a", Selectors: []string{"unix:uid:1"}}},
		Federated: map[string]json.RawMessage{"partner.org": json.RawMessage(`{"keys":[]}`)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m agentproto.Message
		if json.Unmarshal(data, &m) != nil {
			return
		}
		u, err := parseMessage(m, fs.td, bundle)
		if err != nil || u.revs == nil {
			return
		}
		if diff := cmp.Diff(&batch, u.revs); diff != "" {
			t.Fatalf("a batch the server did not sign verified (-signed +got):\n%s", diff)
		}
	})
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
