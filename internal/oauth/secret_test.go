package oauth

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	format := regexp.MustCompile(`^kith_sk_[0-9A-Za-z]{49}$`)
	for range 50 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		v := s.Reveal()
		if !format.MatchString(v) {
			t.Fatalf("secret %q does not match %s", v, format)
		}
		if seen[v] {
			t.Fatal("NewSecret repeated itself")
		}
		seen[v] = true
		if _, err := ParseSecret(v); err != nil {
			t.Errorf("ParseSecret(a fresh secret): %v", err)
		}
	}
}

func TestParseSecretCatchesTypos(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	v := s.Reveal()
	swap := []byte(v)
	i := len(SecretPrefix) + 5
	swap[i], swap[i+1] = swap[i+1], swap[i]
	if swap[i] == swap[i+1] {
		swap[i] = '0'
	}
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", SecretPrefix},
		{"other prefix", "kith_xx_" + v[len(SecretPrefix):]},
		{"one character changed", v[:20] + string(rune(v[20]^1)) + v[21:]},
		{"two characters swapped", string(swap)},
		{"truncated", v[:len(v)-1]},
		{"extended", v + "0"},
		{"outside the alphabet", v[:20] + "-" + v[21:]},
		{"checksum changed", typoLast(v)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == v {
				t.Skip("the mutation left the secret unchanged")
			}
			if _, err := ParseSecret(tc.in); !errors.Is(err, ErrMalformedSecret) {
				t.Errorf("ParseSecret error = %v, want ErrMalformedSecret", err)
			}
		})
	}
	if allocs := testing.AllocsPerRun(100, func() { wellFormedSecret(v) }); allocs != 0 {
		t.Errorf("checking a secret allocates %v times", allocs)
	}
}

func typoLast(s string) string {
	if s[len(s)-1] == 'a' {
		return s[:len(s)-1] + "b"
	}
	return s[:len(s)-1] + "a"
}

func TestSecretRedacts(t *testing.T) {
	s, _ := NewSecret()
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s)
	outs := []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), s.String(), s.GoString(), logged.String(),
		fmt.Sprintf("%v", struct{ S Secret }{s})}
	for _, out := range outs {
		if strings.Contains(out, s.Reveal()[len(SecretPrefix):]) {
			t.Errorf("%q shows the secret", out)
		}
	}
	o, _ := ParseSecret(s.Reveal())
	if !s.Equal(o) {
		t.Error("Equal is false for the same secret")
	}
	other, _ := NewSecret()
	if s.Equal(other) {
		t.Error("Equal is true for different secrets")
	}
}
