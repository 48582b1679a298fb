package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// adminTokenPrefix starts every admin token, so that secret scanners can
// recognise one.
const adminTokenPrefix = "kith_admin_"

// AdminToken is a plaintext admin credential. It exists only between its
// creation and being written to DATA/admin.token; it redacts itself when
// printed or logged, and cannot be compared with ==.
type AdminToken struct {
	_     [0]func() // not comparable: compare tokens in constant time
	value string
	// Path is the file the token was written to.
	Path string
}

// Reveal returns the token's text, for the one place that shows it to the
// operator (kith dev).
func (t *AdminToken) Reveal() string { return t.value }

// String returns a redacted form.
func (t *AdminToken) String() string { return adminTokenPrefix + "…(redacted)" }

// LogValue keeps the token out of logs.
func (t *AdminToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// newAdminToken returns a token "kith_admin_<id>_<secret>" where id is 12
// hex digits and secret is 256 random bits in unpadded base64url, and the
// credential that stores its SHA-256 hash.
func newAdminToken(now time.Time) (*AdminToken, store.AdminCredential) {
	var id [6]byte
	var secret [32]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	idHex := hex.EncodeToString(id[:])
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(sec))
	return &AdminToken{value: adminTokenPrefix + idHex + "_" + sec},
		store.AdminCredential{ID: idHex, Hash: sum[:], Name: "bootstrap", CreatedAt: now.UTC().Truncate(time.Microsecond)}
}

// parseAdminToken splits a token into its ID and secret, or reports false.
func parseAdminToken(tok string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, adminTokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 12 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", "", false // IDs are lower-case hex; anything else is not one
	}
	return id, secret, true
}

// bootstrapAdmin creates the first admin credential when the store has none,
// and writes its plaintext once to DATA/admin.token with mode 0600.
func (s *Server) bootstrapAdmin(ctx context.Context) (*AdminToken, error) {
	n, err := s.store.CountAdminCredentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin credentials: %w", err)
	}
	if n > 0 {
		return nil, nil
	}
	tok, cred := newAdminToken(s.clock())
	tok.Path = filepath.Join(s.cfg.DataDir, "admin.token")
	f, err := os.OpenFile(tok.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write admin token (remove a stale %s if the store was reset): %w", tok.Path, err)
	}
	_, err = f.WriteString(tok.value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tok.Path)
		return nil, fmt.Errorf("write admin token: %w", err)
	}
	if err := s.store.CreateAdminCredential(ctx, cred); err != nil {
		os.Remove(tok.Path)
		if errors.Is(err, store.ErrConflict) {
			return nil, nil // another replica won the race
		}
		return nil, fmt.Errorf("store admin credential: %w", err)
	}
	if _, err := s.ledger.Record(ctx, audit.Event{
		Type: audit.TypeAdminCredentialCreated, Actor: audit.SystemActor(), Target: cred.ID,
		Action: "create", Outcome: audit.OutcomeSuccess, Reason: "first start",
	}); err != nil {
		return nil, err
	}
	s.logger.Info("created the admin credential", "path", tok.Path,
		"use", "export KITH_ADMIN_TOKEN=$(cat "+tok.Path+")")
	return tok, nil
}

// errUnauthenticated is what every admin route answers to a missing or
// wrong credential; it says no more than that.
func errUnauthenticated() error {
	return &problemError{status: http.StatusUnauthorized, title: "Unauthorized",
		detail: "a valid admin token is required (Authorization: Bearer …)"}
}

// authenticateAdmin checks the request's bearer token and returns the
// admin actor, or errUnauthenticated (errTooManyFailures once the source
// has failed too often; see adminfail.go). Failures are counted and
// recorded in the ledger, coalesced. A correct token is accepted whatever
// the failures of its source.
func (s *Server) authenticateAdmin(r *http.Request) (audit.Actor, error) {
	actor := audit.Actor{Kind: "admin", CredentialType: "admin_token", RemoteAddr: r.RemoteAddr}
	tok, ok := bearerToken(r)
	id, secret, ok2 := parseAdminToken(tok)
	if !ok || !ok2 {
		return actor, s.adminAuthFailed(r, actor, "", "missing or malformed admin token")
	}
	// An unknown ID is compared against zeros, which no SHA-256 output
	// matches, so that the work done is the same as for a known ID.
	want := make([]byte, sha256.Size)
	cred, err := s.store.GetAdminCredential(r.Context(), id)
	switch {
	case err == nil:
		want = cred.Hash
	case !errors.Is(err, store.ErrNotFound):
		return actor, fmt.Errorf("admin credential lookup: %w", err)
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want) != 1 || err != nil {
		return actor, s.adminAuthFailed(r, actor, id, "wrong admin token")
	}
	actor.ID, actor.CredentialID = "admin:"+cred.Name, cred.ID
	return actor, nil
}

// maxAuditTarget bounds the request line an admin.auth.failed event
// quotes: the request is an unauthenticated caller's.
const maxAuditTarget = 512

// adminAuthFailed counts a failed login, records it in the ledger if it
// is the first of its source and reason in the window (the repeats are
// recorded together at the window's end), and returns the error to
// answer: errUnauthenticated, or errTooManyFailures when the source is
// over its budget. claimedID is the credential ID of a well-formed token,
// never any part of its secret; the token itself is never recorded.
func (s *Server) adminAuthFailed(r *http.Request, actor audit.Actor, claimedID, reason string) error {
	s.metrics.authFailures.Inc()
	target := r.Method + " " + r.URL.Path
	if len(target) > maxAuditTarget { // the caller's own text: keep it short
		target = strings.ToValidUTF8(target[:maxAuditTarget], "") + "…"
	}
	first, retry := s.authFails.note(failure{
		source: sourceKey(r), reason: reason, claimedID: claimedID, target: target,
		requestID: requestID(r.Context()), remoteAddr: r.RemoteAddr, now: s.clock(),
	})
	if first {
		actor.ID = claimedID
		details := map[string]string{"count": "1", "source": sourceKey(r)}
		if retry > 0 {
			details["rate_limited"] = "1"
		}
		if _, err := s.ledger.Record(r.Context(), audit.Event{
			Type: audit.TypeAdminAuthFailed, Actor: actor, Target: target,
			Action: "authenticate", Outcome: audit.OutcomeDenied, Reason: reason,
			RequestID: requestID(r.Context()), Details: details,
		}); err != nil {
			s.logger.Error("record failed admin login", "error", err)
		}
	}
	if retry > 0 {
		return errTooManyFailures(retry)
	}
	return errUnauthenticated()
}

// errTooManyFailures answers a failed login from a source over its
// budget of failures.
func errTooManyFailures(retry time.Duration) error {
	return &problemError{status: http.StatusTooManyRequests, title: "Too Many Requests",
		detail:     "too many failed admin logins from this address; a valid admin token is still accepted",
		retryAfter: retry}
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}
