package nodes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// JoinTokenPrefix starts every join token, so that secret scanners can
// recognise one.
const JoinTokenPrefix = "kith_jt_"

// Lengths of the parts of a join token.
const (
	tokenIDLen     = 12 // hex digits
	tokenSecretLen = 43 // unpadded base64url of 32 bytes
)

// JoinToken is a plaintext join token, shown once to the admin who created
// it. It redacts itself when printed or logged and cannot be compared with
// ==.
type JoinToken struct {
	_     [0]func() // not comparable: compare secrets in constant time
	value string
	// ID is the token's public ID, as the ledger names it.
	ID string
	// ExpiresAt is when the token stops working.
	ExpiresAt time.Time
}

// Reveal returns the token's text, for the one answer that shows it.
func (t *JoinToken) Reveal() string { return t.value }

// String returns a redacted form that names the token's ID.
func (t *JoinToken) String() string { return JoinTokenPrefix + t.ID + "_…(redacted)" }

// LogValue keeps the secret out of logs.
func (t *JoinToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// parseJoinToken splits a join token into its ID and secret. It returns
// an error wrapping [ErrInvalidJoinToken] unless tok is exactly
// "kith_jt_" + 12 lower-case hex digits + "_" + 43 base64url characters.
func parseJoinToken(tok string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(tok, JoinTokenPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: no %s prefix", ErrInvalidJoinToken, JoinTokenPrefix)
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != tokenIDLen || len(secret) != tokenSecretLen || !isLowerHex(id) {
		return "", "", fmt.Errorf("%w: malformed", ErrInvalidJoinToken)
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != 32 {
		return "", "", fmt.Errorf("%w: malformed secret", ErrInvalidJoinToken)
	}
	return id, secret, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// secretHash is the stored form of a token secret.
func secretHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateJoinToken makes a one-time join token valid for ttl (zero means
// [DefaultJoinTokenTTL]), stores its hash and records
// "agent.join_token.created". It returns an error wrapping
// [ErrInvalidRequest] for a ttl outside 1m to [MaxJoinTokenTTL], or the
// store's or ledger's error.
func (s *Service) CreateJoinToken(ctx context.Context, actor audit.Actor, ttl time.Duration) (*JoinToken, error) {
	if ttl == 0 {
		ttl = DefaultJoinTokenTTL
	}
	if ttl < minJoinTokenTTL || ttl > MaxJoinTokenTTL {
		return nil, invalid("ttl must be between %v and %v", minJoinTokenTTL, MaxJoinTokenTTL)
	}
	var idBytes [tokenIDLen / 2]byte
	var secretBytes [32]byte
	rand.Read(idBytes[:])
	rand.Read(secretBytes[:])
	id := hex.EncodeToString(idBytes[:])
	secret := base64.RawURLEncoding.EncodeToString(secretBytes[:])
	now := s.now()
	rec := store.JoinToken{ID: id, Hash: secretHash(secret), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := ledger.WriteAudited(ctx, s.cfg.Store, s.cfg.Auditor, func(tx *store.Tx) (audit.Event, error) {
		if err := tx.CreateJoinToken(ctx, rec); err != nil {
			return audit.Event{}, fmt.Errorf("nodes: store join token: %w", err)
		}
		return audit.Event{
			Type: audit.TypeAgentJoinTokenCreated, Actor: actor, Target: id, Action: "create", Outcome: audit.OutcomeSuccess,
			Details: map[string]string{"expires_at": rec.ExpiresAt.Format(time.RFC3339)},
		}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("nodes: create join token: %w", err)
	}
	return &JoinToken{value: JoinTokenPrefix + id + "_" + secret, ID: id, ExpiresAt: rec.ExpiresAt}, nil
}
