package callrecord

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

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
