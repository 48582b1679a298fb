package nodes

import (
	"errors"
	"strings"
	"testing"
)

func TestParseJoinToken(t *testing.T) {
	secret := strings.Repeat("A", 42) + "A"
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"well formed", "kith_jt_0123456789ab_" + secret, true},
		{"no prefix", "0123456789ab_" + secret, false},
		{"admin token", "kith_admin_0123456789ab_" + secret, false},
		{"upper-case id", "kith_jt_0123456789AB_" + secret, false},
		{"short id", "kith_jt_0123456789a_" + secret, false},
		{"short secret", "kith_jt_0123456789ab_" + secret[1:], false},
		{"padded secret", "kith_jt_0123456789ab_" + secret[1:] + "=", false},
		{"non-canonical secret", "kith_jt_0123456789ab_" + strings.Repeat("A", 42) + "B", false},
		{"no separator", "kith_jt_0123456789ab" + secret, false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, sec, err := parseJoinToken(tc.tok)
			if (err == nil) != tc.ok {
				t.Fatalf("parseJoinToken(%q) error = %v, want ok=%v", tc.tok, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidJoinToken) {
				t.Errorf("error %v does not wrap ErrInvalidJoinToken", err)
			}
			if tc.ok && (id != "0123456789ab" || sec != secret) {
				t.Errorf("parseJoinToken = %q, %q", id, sec)
			}
		})
	}
}

// FuzzParseJoinToken checks that the parser of the untrusted join token
// never panics, and that what it accepts is exactly what it was given.
func FuzzParseJoinToken(f *testing.F) {
	f.Add("kith_jt_0123456789ab_" + strings.Repeat("A", 43))
	f.Add("kith_jt_")
	f.Add("kith_jt_0123456789ab_" + strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, tok string) {
		id, secret, err := parseJoinToken(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidJoinToken) {
				t.Fatalf("error %v does not wrap ErrInvalidJoinToken", err)
			}
			return
		}
		if JoinTokenPrefix+id+"_"+secret != tok {
			t.Fatalf("parsed %q into %q and %q, which do not rebuild it", tok, id, secret)
		}
	})
}
