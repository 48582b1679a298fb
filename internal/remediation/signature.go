package remediation

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed by the
	// webhook's secret, of the timestamp header's value, a '.', and the
	// body.
	HeaderSignature = "X-Kith-Signature"
	// HeaderTimestamp is when the delivery was signed, in Unix seconds.
	HeaderTimestamp = "X-Kith-Timestamp"
	// HeaderDelivery is the notification's ID, the same on every attempt.
	HeaderDelivery = "X-Kith-Delivery"
	// HeaderEvent is the ledger event's type.
	HeaderEvent = "X-Kith-Event"
)

// Limits of a webhook secret.
const (
	MinSecretLen = 16
	MaxSecretLen = 4096
)

// DefaultTolerance is how far a delivery's timestamp may be from the
// receiver's clock for [Verify] when it is given zero.
const DefaultTolerance = 5 * time.Minute

// ErrSignature is returned by [Verify] for a delivery that does not carry
// a valid, fresh signature.
var ErrSignature = errors.New("remediation: invalid webhook signature")

// Secret is the HMAC key that signs webhook deliveries. It never prints
// its key (String, GoString, Format and LogValue print
// "Secret(redacted)") and cannot be compared with ==.
type Secret struct {
	_   [0]func() // not comparable: == on key material is not constant-time
	key []byte
}

const secretRedacted = "Secret(redacted)"

// NewSecret returns a Secret holding a copy of key. It returns an error
// for a key shorter than MinSecretLen or longer than MaxSecretLen bytes.
func NewSecret(key []byte) (*Secret, error) {
	if len(key) < MinSecretLen || len(key) > MaxSecretLen {
		return nil, fmt.Errorf("remediation: webhook secret is %d bytes, want %d to %d", len(key), MinSecretLen, MaxSecretLen)
	}
	return &Secret{key: bytes.Clone(key)}, nil
}

// LoadSecret reads a secret from the file at path, trailing white space
// removed. It refuses a file that is not a regular file or that group or
// others may access, and returns an error saying which.
func LoadSecret(path string) (*Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("remediation: webhook secret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("remediation: webhook secret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("remediation: webhook secret: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("remediation: webhook secret: %s has mode %04o; it must not be accessible to group or others (chmod 600)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretLen+64))
	if err != nil {
		return nil, fmt.Errorf("remediation: webhook secret: read %s: %w", path, err)
	}
	defer clear(b)
	return NewSecret(bytes.TrimRight(b, " \t\r\n"))
}

// String returns "Secret(redacted)".
func (s *Secret) String() string { return secretRedacted }

// GoString returns "Secret(redacted)".
func (s *Secret) GoString() string { return secretRedacted }

// Format prints "Secret(redacted)" for every verb.
func (s *Secret) Format(f fmt.State, _ rune) { io.WriteString(f, secretRedacted) }

// LogValue logs "Secret(redacted)".
func (s *Secret) LogValue() slog.Value { return slog.StringValue(secretRedacted) }

// Sign returns the HeaderSignature value of a delivery of body signed at
// timestamp (the HeaderTimestamp value).
func Sign(s *Secret, timestamp string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(s, timestamp, body))
}

func mac(s *Secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	io.WriteString(m, timestamp)
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a webhook delivery as its receiver does: signature and
// timestamp are its HeaderSignature and HeaderTimestamp values, body its
// body. The signature is compared in constant time, and the timestamp
// must be within tolerance of now (DefaultTolerance when zero), so that a
// recorded delivery cannot be replayed later. It returns an error
// wrapping ErrSignature otherwise.
func Verify(s *Secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is too far from now", ErrSignature, timestamp)
	}
	hexSig, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: want sha256=<hex>", ErrSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac(s, timestamp, body)) {
		return fmt.Errorf("%w: signature mismatch", ErrSignature)
	}
	return nil
}
