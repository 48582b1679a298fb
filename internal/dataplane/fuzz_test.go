package dataplane

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzClipText checks jsonLen against encoding/json and that ClipText
// returns valid UTF-8 within its limit that starts the (repaired) input.
func FuzzClipText(f *testing.F) {
	f.Add("/v1/orders/7?x=<y>&z", 10)
	f.Add("\x00\x01\b\f\n\r\t\"\\\u2028\u2029\x7f\xff\xfeé€𝄞", 40)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		enc, _ := json.Marshal(s)
		if got, want := jsonLen(s), len(enc)-2; got != want {
			t.Fatalf("jsonLen(%q) = %d, encoding/json writes %d", s, got, want)
		}
		limit = max(limit%4096, 0)
		c := ClipText(s, limit)
		if !utf8.ValidString(c) || jsonLen(c) > limit || !strings.HasPrefix(strings.ToValidUTF8(s, "\uFFFD"), c) {
			t.Fatalf("ClipText(%q, %d) = %q", s, limit, c)
		}
		if jsonLen(strings.ToValidUTF8(s, "\uFFFD")) <= limit && c != strings.ToValidUTF8(s, "\uFFFD") {
			t.Fatalf("ClipText(%q, %d) = %q, cut although it fits", s, limit, c)
		}
	})
}
