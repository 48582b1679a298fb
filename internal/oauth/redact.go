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

// redactSecrets returns s with every run that starts like a client secret
// (SecretPrefix, in any case, and the base62 digits after it) replaced by
// "[redacted sha256:<hex>]". It allocates only when it finds one.
func redactSecrets(s string) string {
	i := indexSecretPrefix(s, 0)
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for ; i >= 0; i = indexSecretPrefix(s, last) {
		end := i + len(SecretPrefix)
		for end < len(s) && base62Digit(s[end]) >= 0 {
			end++
		}
		b.WriteString(s[last:i])
		b.WriteString("[redacted " + fingerprint(s[i:end]) + "]")
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// indexSecretPrefix returns the index of the first SecretPrefix in s at
// or after from, ignoring ASCII case, or -1.
func indexSecretPrefix(s string, from int) int {
	for i := from; i+len(SecretPrefix) <= len(s); i++ {
		j := 0
		for ; j < len(SecretPrefix); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != SecretPrefix[j] {
				break
			}
		}
		if j == len(SecretPrefix) {
			return i
		}
	}
	return -1
}
