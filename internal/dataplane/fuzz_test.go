package dataplane

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeFeedMessage decodes arbitrary lines, re-encodes what decodes
// and checks it round-trips, and applies it to a View, which must never
// panic.
func FuzzDecodeFeedMessage(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"full":true,"trust_domain":"example.org","bundles":{"example.org":{"keys":[]}}}`,
		`{"version":2,"heartbeat":true}`,
		`{"version":3,"revocations":["a.b.c"],"policies":{"revision":1,"documents":[]},"token_keys":{"keys":[]}}`,
		`{"version":-1}`, `{}`, `[]`, `{"version":1}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := DecodeFeedMessage(line)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeFeedMessage(out)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", out, err)
		}
		out2, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if string(out) != string(out2) {
			t.Fatalf("round trip is not a fixed point:\n%s\n%s", out, out2)
		}
		v, err := New(Config{SocketPath: "unused"})
		if err != nil {
			t.Fatal(err)
		}
		_ = v.Apply(m)
	})
}
