package scan

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/kith-dev/kith/internal/oauth"
)

// FuzzFromGitleaks feeds what a scanned file controls (the secret matched
// and the text of its line) to the conversion of a gitleaks finding:
// it never panics, never shows more of a secret than its preview allows,
// gives sane columns, and keeps a Kith finding only with a valid secret.
func FuzzFromGitleaks(f *testing.F) {
	s, _ := oauth.NewSecret()
	f.Add(RuleKithSecret, s.Reveal(), "secret: "+s.Reveal())
	f.Add(RuleKithSecret, "kith_sk_"+strings.Repeat("X", 49), "\nx = kith_sk_"+strings.Repeat("X", 49))
	f.Add("generic-api-key", "a2l0aF9za19acTN4UjhtTjJwTDd2SzR3VDl5QjZjRjFoSjVnRDBzQTNlUTh1STJvUDduTTRiVjl3", "k: a2l0aF9za19acTN4")
	f.Add("private-key", "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY-----")
	f.Add("aws-access-token", "AKIAABCDEFGHIJKLMNOP", "𝄞 AKIAABCDEFGHIJKLMNOP")
	f.Add("x", "", "")
	f.Fuzz(func(t *testing.T, rule, secret, line string) {
		g := report.Finding{RuleID: rule, Secret: secret, Line: line, File: "a/b", StartLine: 3, EndLine: 3 + strings.Count(secret, "\n")}
		fd, ok := fromGitleaks(&g, "root", true)
		if !ok {
			return
		}
		if rule == RuleKithSecret {
			if _, err := oauth.ParseSecret(secret); err != nil || fd.secret.Reveal() != secret {
				t.Fatalf("kept a Kith finding of %q", secret)
			}
		} else if strings.Contains(secret, oauth.SecretPrefix) {
			t.Fatalf("a %s finding of a Kith-shaped string was kept", rule)
		}
		shown, cut := strings.CutSuffix(fd.Secret, "…")
		switch {
		case !cut:
			t.Fatalf("preview %q does not end in …", fd.Secret)
		case !strings.HasPrefix(secret, shown):
			t.Fatalf("preview %q is not a prefix of the secret", fd.Secret)
		case strings.HasPrefix(secret, "-----BEGIN") && strings.Contains(shown, "\n"):
			t.Fatalf("preview %q goes past the PEM header", fd.Secret)
		case !strings.HasPrefix(secret, "-----BEGIN") && shown != oauth.SecretPrefix && utf8.RuneCountInString(shown) > 4:
			t.Fatalf("preview %q shows more than 4 characters", fd.Secret)
		case utf8.RuneCountInString(shown) == 4 && utf8.RuneCountInString(secret) < 16:
			t.Fatalf("preview %q of a short secret", fd.Secret)
		}
		if fd.Column < 1 || fd.EndColumn != 0 && fd.Line == fd.EndLine && fd.EndColumn < fd.Column {
			t.Fatalf("columns %d to %d", fd.Column, fd.EndColumn)
		}
		if fd.File != "root/a/b" {
			t.Fatalf("file %q", fd.File)
		}
	})
}
