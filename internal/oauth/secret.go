package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/big"
	"strings"
)

// Client secrets look like "kith_sk_" followed by 43 base62 characters
// holding 256 random bits and 6 base62 characters holding the CRC32 of
// everything before them, so that a secret scanner can recognise one and
// tell it from a mistyped string without asking the server.
const (
	SecretPrefix    = "kith_sk_"
	secretRandLen   = 43 // base62 digits of 256 bits
	secretSumLen    = 6  // base62 digits of 32 bits
	secretLen       = len(SecretPrefix) + secretRandLen + secretSumLen
	secretRedacted  = SecretPrefix + "…(redacted)"
	base62Alphabet  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretRandBytes = 32
)

// ErrMalformedSecret reports a string that is not a Kith client secret: a
// wrong prefix, length or alphabet, or a checksum that does not match.
var ErrMalformedSecret = errors.New("oauth: not a Kith client secret")

// Secret is a plaintext client secret. It exists between its creation and
// being shown once to the operator, and while a request that carries one is
// checked. It never prints itself (String, GoString, Format and LogValue
// all redact it) and cannot be compared with ==; use [Secret.Equal].
type Secret struct {
	_     [0]func() // not comparable: compare secrets in constant time
	value string
}

// NewSecret returns a fresh secret with 256 bits from crypto/rand. It
// returns an error only if the system's random source fails.
func NewSecret() (Secret, error) {
	var b [secretRandBytes]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return Secret{}, fmt.Errorf("oauth: secret: %w", err)
	}
	body := SecretPrefix + base62(new(big.Int).SetBytes(b[:]), secretRandLen)
	sum := base62(new(big.Int).SetUint64(uint64(crcString(body))), secretSumLen)
	return Secret{value: body + sum}, nil
}

// ParseSecret checks that s has the form of a Kith client secret and a
// matching checksum, and returns it. It returns [ErrMalformedSecret]
// otherwise. It does a fixed amount of work and does not allocate.
func ParseSecret(s string) (Secret, error) {
	if !wellFormedSecret(s) {
		return Secret{}, ErrMalformedSecret
	}
	return Secret{value: s}, nil
}

// wellFormedSecret reports whether s has the prefix, the length, the
// alphabet and the checksum of a secret.
func wellFormedSecret(s string) bool {
	if len(s) != secretLen || !strings.HasPrefix(s, SecretPrefix) {
		return false
	}
	var sum uint64
	for i := len(SecretPrefix); i < len(s); i++ {
		d := base62Digit(s[i])
		if d < 0 {
			return false
		}
		if i >= secretLen-secretSumLen {
			sum = sum*62 + uint64(d)
		}
	}
	return sum == uint64(crcString(s[:secretLen-secretSumLen]))
}

// crcString is the IEEE CRC32 of s, without converting s to bytes.
func crcString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// Reveal returns the secret's text, for the one place that shows it to
// its owner.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether s holds no secret.
func (s Secret) IsZero() bool { return s.value == "" }

// Equal compares two secrets in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.value), []byte(o.value)) == 1
}

// Hash returns the SHA-256 of the secret, the only form in which it is
// stored. A secret carries 256 random bits, so a password hash would add
// cost without adding safety.
func (s Secret) Hash() [sha256.Size]byte { return sha256.Sum256([]byte(s.value)) }

// String returns a redacted form.
func (s Secret) String() string { return secretRedacted }

// GoString returns a redacted form.
func (s Secret) GoString() string { return secretRedacted }

// Format prints a redacted form whatever the verb.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, secretRedacted) }

// LogValue returns a redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(secretRedacted) }

// base62 returns n in base62, left-padded with zeros to width digits.
func base62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	rem := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.QuoRem(n, base, rem)
		out[i] = base62Alphabet[rem.Int64()]
	}
	return string(out)
}

// base62Digit returns the value of base62 digit c, or -1.
func base62Digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
