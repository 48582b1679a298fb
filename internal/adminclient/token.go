package adminclient

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is an admin API bearer token. It hides its value from fmt, log/slog
// and encoding/json, and it cannot be compared with ==.
type Token struct {
	_ [0]func() // not comparable: compare tokens in constant time, or not at all
	v string
}

// NewToken wraps the secret s as a Token.
func NewToken(s string) Token { return Token{v: s} }

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.v == "" }

// String returns a redaction marker, never the token.
func (t Token) String() string { return redacted }

// GoString returns a redaction marker, never the token.
func (t Token) GoString() string { return "adminclient.Token(" + redacted + ")" }

// Format writes a redaction marker for every verb, never the token.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns a redaction marker, never the token.
func (t Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns a redaction marker, never the token.
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// bearer returns the value of the Authorization header that carries t.
func (t Token) bearer() string { return "Bearer " + t.v }
