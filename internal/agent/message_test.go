package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"

	wire "github.com/kith-dev/kith/internal/sync"
)

func TestMessageReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []wire.Message
		wantErr error // after the messages; nil means io.EOF
	}{
		{"two messages", `{"revision":1,"full":true}` + "\n" + `{"revision":2,"heartbeat":true}` + "\n", 0,
			[]wire.Message{{Revision: 1, Full: true}, {Revision: 2, Heartbeat: true}}, nil},
		{"blank lines and CRLF", "\n\r\n" + `{"revision":3}` + "\r\n\n", 0, []wire.Message{{Revision: 3}}, nil},
		{"last line without newline", `{"revision":4}`, 0, []wire.Message{{Revision: 4}}, nil},
		{"unknown fields are ignored", `{"revision":5,"future_field":[1,2]}` + "\n", 0, []wire.Message{{Revision: 5}}, nil},
		{"oversized line", `{"revision":6,"deleted":["` + strings.Repeat("x", 200) + `"]}` + "\n", 100, nil, errMessageTooLarge},
		{"garbage", "not json\n", 0, nil, errors.New("decode")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr := newMessageReader(strings.NewReader(tt.in))
			if tt.max > 0 {
				mr.max = tt.max
			}
			var got []wire.Message
			var err error
			for {
				var m wire.Message
				if m, err = mr.next(); err != nil {
					break
				}
				got = append(got, m)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == nil && !errors.Is(err, io.EOF):
				t.Errorf("end = %v, want EOF", err)
			case tt.wantErr == errMessageTooLarge && !errors.Is(err, errMessageTooLarge):
				t.Errorf("end = %v, want errMessageTooLarge", err)
			case tt.wantErr != nil && tt.wantErr != errMessageTooLarge && (err == nil || errors.Is(err, io.EOF)):
				t.Errorf("end = %v, want a decoding error", err)
			}
		})
	}
}

// testBatch returns a fake server, a signed revocation batch and the batch.
func testBatch(tb testing.TB) (*fakeServer, string, wire.RevocationBatch) {
	clock := newTestClock()
	fs := newFakeServer(tb, clock)
	batch := wire.RevocationBatch{Revision: 2, Full: true, IssuedAt: clock.Now().UTC(), Entries: []wire.Revocation{
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
	entry := wire.Entry{ID: "e1", SPIFFEID: "spiffe://example.org/web", Selectors: []string{"unix:uid:1"}, Status: "active"}
	tests := []struct {
		name        string
		msg         wire.Message
		held        *spiffebundle.Bundle
		wantErr     bool
		wantEntries int
		wantFed     int
		wantSkipped int
	}{
		{"full state", wire.Message{Revision: 1, Full: true, Entries: []wire.Entry{entry}, Bundle: raw,
			Federated: map[string]json.RawMessage{"partner.org": partner}, Revocations: jws}, nil, false, 1, 1, 0},
		{"revocations checked against the held bundle", wire.Message{Revision: 2, Revocations: jws}, bundle, false, 0, 0, 0},
		{"revocations signed by another CA", wire.Message{Revision: 2, Revocations: jws}, other, true, 0, 0, 0},
		{"revocations before any bundle", wire.Message{Revision: 2, Revocations: jws}, nil, true, 0, 0, 0},
		{"tampered revocations", wire.Message{Revision: 2, Revocations: jws[:len(jws)-6] + "AAAAAA"}, bundle, true, 0, 0, 0},
		{"bundle that is not JSON", wire.Message{Revision: 2, Bundle: json.RawMessage(`"x"`)}, bundle, true, 0, 0, 0},
		{"own trust domain as federated", wire.Message{Revision: 2, Federated: map[string]json.RawMessage{"example.org": raw}}, bundle, false, 0, 0, 1},
		{"foreign entry", wire.Message{Revision: 2, Entries: []wire.Entry{{ID: "e2", SPIFFEID: "spiffe://evil.org/web", Selectors: []string{"unix:uid:1"}}}}, bundle, false, 0, 0, 1},
		{"entry without selectors", wire.Message{Revision: 2, Entries: []wire.Entry{{ID: "e3", SPIFFEID: "spiffe://example.org/web"}}}, bundle, false, 0, 0, 1},
		{"negative revision", wire.Message{Revision: -1}, bundle, true, 0, 0, 0},
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

// FuzzMessageReader feeds arbitrary bytes to the sync stream decoder: it
// must not panic, and whatever it decodes must survive a round trip.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte(`{"revision":1,"full":true,"entries":[{"id":"e","spiffe_id":"spiffe://example.org/a","selectors":["unix:uid:1"],"status":"active","revision":1}]}` + "\n"))
	f.Add([]byte(`{"revision":2,"heartbeat":true}` + "\n\n" + `{"revision":3,"deleted":["e"],"federated_removed":["partner.org"]}`))
	f.Add([]byte(`{"revision":4,"evicted":true}` + "\r\n"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(`{"revision":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mr := newMessageReader(bytes.NewReader(data))
		mr.max = 4096
		for range 64 {
			m, err := mr.next()
			if err != nil {
				return
			}
			enc, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			back, err := newMessageReader(bytes.NewReader(enc)).next()
			if err != nil {
				t.Fatalf("decode re-encoded %s: %v", enc, err)
			}
			if diff := cmp.Diff(m, back, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		}
	})
}

// FuzzParseMessage feeds arbitrary messages, revocation batches
// included, to the checks the agent applies before trusting them: they
// must not panic, and a batch that verifies must be the one the server
// signed.
func FuzzParseMessage(f *testing.F) {
	fs, jws, batch := testBatch(f)
	bundle := fs.bundle()
	f.Add(mustJSON(f, wire.Message{Revision: 1, Full: true, Bundle: fs.bundleJSON(), Revocations: jws}))
	f.Add(mustJSON(f, wire.Message{Revision: 2, Revocations: jws}))
	f.Add(mustJSON(f, wire.Message{Revision: 3, Revocations: jws[:40]}))
	f.Add(mustJSON(f, wire.Message{Revision: 4, Entries: []wire.Entry{{ID: "e", SPIFFEID: "spiffe://example.org/a", Selectors: []string{"unix:uid:1"}}},
		Federated: map[string]json.RawMessage{"partner.org": json.RawMessage(`{"keys":[]}`)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m wire.Message
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
