package oauth

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// What the ledger and the logs may say about text a request sent. A
// client that sends its secret where its ID belongs (or swaps the pair of
// HTTP Basic authentication) must not have the secret written to the
// immutable ledger: a claimed identifier is recorded only if it has the
// syntax of a client ID, or was proven (a verified certificate's or
// JWT-SVID's SPIFFE ID); anything else is recorded as a fingerprint. Free
// text bound for the ledger or the log (refusal reasons, echoed
// parameters) has every secret-shaped run replaced by its fingerprint.

// clientIDLen is the length of a client ID: "ci_" and 26 base32 digits.
const clientIDLen = 3 + 26

// validClientIDSyntax reports whether s has the form of a client ID made
// by newClientID: "ci_" and 26 lower-case base32 digits.
func validClientIDSyntax(s string) bool {
	if len(s) != clientIDLen || !strings.HasPrefix(s, "ci_") {
		return false
	}
	for i := 3; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// fingerprint names text without showing it: "sha256:" and the first 8
// bytes of its SHA-256 in hex. Equal texts have equal fingerprints, so a
// flood of one wrong identifier still coalesces in the ledger.
func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// recordedClaim is how the ledger and the logs name a client identifier a
// request claimed but did not prove: as it is if it has the syntax of a
// client ID, "unknown:sha256:<hex>" otherwise (a secret sent as the
// client_id, a swapped Basic pair, an assertion's unverified subject).
// The empty string stays empty.
func recordedClaim(s string) string {
	if s == "" || validClientIDSyntax(s) {
		return s
	}
	return "unknown:" + fingerprint(s)
}

// redactSecrets returns s with what may be a client secret replaced by
// "[redacted sha256:<hex>]": every run that starts like one (SecretPrefix,
// in any case, and the base62 digits after it), then every run of base62
// digits as long as a secret's random part (a secret without its prefix).
// It allocates only when it finds one.
func redactSecrets(s string) string {
	return redactRuns(redactRuns(s, true), false)
}

// redactRuns replaces, with prefixed, each SecretPrefix and the base62
// digits after it; without, each run of at least secretRandLen base62
// digits.
func redactRuns(s string, prefixed bool) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		end := i
		switch {
		case prefixed && indexSecretPrefixAt(s, i):
			end = i + len(SecretPrefix)
		case prefixed || base62Digit(s[i]) < 0:
			i++
			continue
		}
		for end < len(s) && base62Digit(s[end]) >= 0 {
			end++
		}
		if prefixed || end-i >= secretRandLen {
			b.WriteString(s[last:i])
			b.WriteString("[redacted " + fingerprint(s[i:end]) + "]")
			last = end
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// indexSecretPrefixAt reports whether SecretPrefix, ignoring ASCII case,
// starts at s[i].
func indexSecretPrefixAt(s string, i int) bool {
	if i+len(SecretPrefix) > len(s) {
		return false
	}
	for j := 0; j < len(SecretPrefix); j++ {
		c := s[i+j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != SecretPrefix[j] {
			return false
		}
	}
	return true
}

// indexSecretPrefix returns the index of the first SecretPrefix in s at
// or after from, ignoring ASCII case, or -1.
func indexSecretPrefix(s string, from int) int {
	for i := from; i+len(SecretPrefix) <= len(s); i++ {
		if indexSecretPrefixAt(s, i) {
			return i
		}
	}
	return -1
}

// longBase62Run reports whether s holds a run of base62 digits as long as
// a secret's random part.
func longBase62Run(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if base62Digit(s[i]) < 0 {
			n = 0
			continue
		}
		if n++; n >= secretRandLen {
			return true
		}
	}
	return false
}
