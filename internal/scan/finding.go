package scan

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/zricethezav/gitleaks/v8/report"

	"github.com/kith-dev/kith/internal/oauth"
)

// Finding is one secret found in one place. It never holds the secret in
// a form that prints: Secret is a redacted preview, and a Kith secret is
// kept unexported, as an [oauth.Secret], to be checked.
type Finding struct {
	// RuleID names the gitleaks rule (or [RuleKithSecret]) that matched,
	// such as "aws-access-token"; Description says what it finds.
	RuleID      string `json:"rule_id"`
	Description string `json:"description"`
	// File is the file's path, slash-separated, from the scanned path as
	// it was given: for the history, the scanned path joined with the
	// file's path in the repository.
	File string `json:"file"`
	// Line and Column are where the secret starts (1-based; columns in
	// UTF-16 code units, as SARIF counts them); EndLine and EndColumn
	// where it ends (EndColumn is the column after its last character).
	Line      int `json:"line"`
	Column    int `json:"column"`
	EndLine   int `json:"end_line"`
	EndColumn int `json:"end_column"`
	// Commit is the commit that added the secret, for a finding in the
	// history; Date is that commit's author date (RFC 3339).
	Commit string `json:"commit,omitempty"`
	Date   string `json:"date,omitempty"`
	// Secret is a preview that does not reveal the secret: its first
	// characters when they are a known prefix or the secret is long,
	// then "…".
	Secret string `json:"secret"`
	// Fingerprint identifies the finding across scans the way gitleaks
	// does ("[commit:]file:rule:line"), as .gitleaksignore lists them.
	Fingerprint string `json:"fingerprint"`
	// Kith is set for a Kith client secret: what the server said of it.
	Kith *KithStatus `json:"kith,omitempty"`

	secret oauth.Secret // a Kith secret, to check; zero otherwise
}

// Location returns "file:line", the finding's place as people write it.
func (f *Finding) Location() string { return fmt.Sprintf("%s:%d", f.File, f.Line) }

// KithStatus is what is known of a Kith client secret found.
type KithStatus struct {
	// Status is one of the Status constants.
	Status Status `json:"status"`
	// ClientID, EntryID and SPIFFEID name the client holding the secret
	// and the workload it acts for; SecretID names the secret among the
	// client's. Empty unless the server knows the secret.
	ClientID string `json:"client_id,omitempty"`
	EntryID  string `json:"entry_id,omitempty"`
	SPIFFEID string `json:"spiffe_id,omitempty"`
	SecretID string `json:"secret_id,omitempty"`
	// Revoked is whether this scan had the server revoke it.
	Revoked bool `json:"revoked,omitempty"`
	// Error says why the check failed, for StatusCheckFailed.
	Error string `json:"error,omitempty"`
}

// Status is what a server check said of a Kith secret.
type Status string

// The statuses of a Kith secret found.
const (
	// StatusUnchecked: no server was asked (none configured, or the
	// scan was of staged changes, which have not leaked).
	StatusUnchecked Status = "unchecked"
	// StatusUnknown: no client holds the secret (never issued by this
	// server, or removed at a rotation or revocation).
	StatusUnknown Status = "unknown"
	// StatusLive: the secret authenticated its client when checked.
	StatusLive Status = "live"
	// StatusExpired: a client holds the secret, but it no longer works
	// (rotated out and past its overlap).
	StatusExpired Status = "expired"
	// StatusCheckFailed: the server could not be asked or refused.
	StatusCheckFailed Status = "check_failed"
)

// fromGitleaks turns a gitleaks finding into a Finding, or reports false
// for one that is not a secret: a Kith-shaped string with a wrong
// checksum, or another rule's match on a Kith-shaped string (the Kith
// rule alone decides those). root is the scanned path, to join to the
// repository paths of history findings.
func fromGitleaks(g *report.Finding, root string, inRepo bool) (Finding, bool) {
	f := Finding{RuleID: g.RuleID, Description: g.Description, Commit: g.Commit, Date: g.Date}
	if g.RuleID == RuleKithSecret {
		sec, err := oauth.ParseSecret(g.Secret)
		if err != nil {
			return Finding{}, false
		}
		f.secret = sec
		f.Kith = &KithStatus{Status: StatusUnchecked}
	} else if holdsKithSecret(g.Secret) {
		return Finding{}, false
	}
	f.File = filepath.ToSlash(g.File)
	if inRepo {
		f.File = path.Join(filepath.ToSlash(root), f.File)
	}
	f.Line, f.EndLine = g.StartLine, g.EndLine
	f.Column, f.EndColumn = columns(g.Line, g.Secret, g.StartLine == g.EndLine)
	f.Secret = preview(g.Secret)
	f.Fingerprint = fmt.Sprintf("%s:%s:%d", f.File, f.RuleID, f.Line)
	if f.Commit != "" {
		f.Fingerprint = f.Commit + ":" + f.Fingerprint
	}
	return f, true
}

// holdsKithSecret reports whether s holds a Kith-shaped string, plainly,
// or base64- or hex-encoded in one of its words: another rule's match on one
// (generic-api-key on "secret: kith_sk_…", or on its encoded form in a
// Kubernetes Secret) is left to the Kith rule, which checks the checksum.
func holdsKithSecret(s string) bool {
	if strings.Contains(s, oauth.SecretPrefix) {
		return true
	}
	for _, word := range strings.FieldsFunc(s, func(r rune) bool { return !isBase64Char(r) }) {
		if len(word) < encodedSecretLen {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if b, err := enc.WithPadding(base64.NoPadding).DecodeString(strings.TrimRight(word, "=")); err == nil &&
				strings.Contains(string(b), oauth.SecretPrefix) {
				return true
			}
		}
		if strings.Contains(strings.ToLower(word), hexPrefix) {
			return true
		}
	}
	return false
}

// hexPrefix is Kith's secret prefix hex-encoded: gitleaks decodes hex too.
var hexPrefix = hex.EncodeToString([]byte(oauth.SecretPrefix))

// encodedSecretLen is the length of a Kith secret in base64.
var encodedSecretLen = base64.RawStdEncoding.EncodedLen(len(oauth.SecretPrefix) + 49)

func isBase64Char(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("+/-_=", r)
}

// columns finds the secret in the text of its first line and returns its
// first column and the column after its end (1-based, UTF-16 units). The
// columns gitleaks reports are those of the whole match, not the
// secret, and one too large after a fragment's first line; finding the
// secret in its line gives the right ones. It returns 1 and 0 (unknown
// end) if the secret is not on the line.
func columns(line, secret string, oneLine bool) (start, end int) {
	line = strings.TrimPrefix(line, "\n") // gitleaks' line text starts at the newline before it
	first, _, multi := strings.Cut(secret, "\n")
	i := strings.Index(line, first)
	if i < 0 && !multi && len(secret) >= 8 {
		// gitleaks found it decoded: point at its base64 form (all but
		// the last group, which depends on what follows it).
		enc := base64.StdEncoding.EncodeToString([]byte(secret))
		if j := strings.Index(line, enc[:len(enc)-4]); j >= 0 {
			start = utf16Len(line[:j]) + 1
			return start, start + len(enc)
		}
	}
	if i < 0 {
		return 1, 0
	}
	start = utf16Len(line[:i]) + 1
	if !oneLine || multi {
		last := secret[strings.LastIndexByte(secret, '\n')+1:]
		return start, utf16Len(last) + 1
	}
	return start, start + utf16Len(secret)
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r == utf8.RuneError {
			n++
			continue
		}
		n += utf16.RuneLen(r)
	}
	return n
}

// preview shows what kind of secret s is without revealing it: the
// header line of a PEM block, Kith's prefix, or the first four
// characters of a secret of at least 16 (such as "AKIA" or "ghp_"),
// followed by "…".
func preview(s string) string {
	switch {
	case strings.HasPrefix(s, "-----BEGIN"):
		head, _, _ := strings.Cut(s, "\n")
		if end := strings.Index(head[5:], "-----"); end >= 0 {
			head = head[:5+end+5]
		}
		return head + "…"
	case strings.HasPrefix(s, oauth.SecretPrefix):
		return oauth.SecretPrefix + "…"
	case utf8.RuneCountInString(s) >= 16:
		end := 0
		for range 4 {
			_, n := utf8.DecodeRuneInString(s[end:])
			end += n
		}
		return s[:end] + "…"
	}
	return "…"
}
