package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/store"
)

// LeakReport is a client secret found outside Kith (in a file, a git
// commit), as `kith scan` reports it to [Service.ReportLeak].
type LeakReport struct {
	// Secret is the secret found.
	Secret Secret
	// Location is where: "path:line". Commit is the git commit, when it
	// was found in history. Places is how many places it was found in
	// (zero counts as one).
	Location string
	Commit   string
	Places   int
	// Revoke asks to revoke a live secret at once.
	Revoke bool
}

// Leak is what [Service.ReportLeak] learned and did: the client that
// holds the secret, whether the secret was live, whether it was revoked.
// Its event's details say the same (the trust engine reads them from the
// ledger).
type Leak struct {
	ClientID ClientID
	EntryID  string
	// SPIFFEID is the SPIFFE ID of the entry the client acts for; empty
	// if the entry is gone.
	SPIFFEID string
	SecretID string
	Location string
	Commit   string
	Places   int
	// Live is whether the secret authenticated its client when reported
	// (not expired; the entry may be quarantined all the same).
	Live bool
	// Revoked is whether the report revoked it.
	Revoked bool
	// At is when it was reported.
	At time.Time
}

// Limits on a leak report's location.
const (
	maxLeakLocation = 1024
	maxLeakPlaces   = 1_000_000
)

// commitPattern is a git object name, abbreviated or whole (SHA-1 or
// SHA-256).
var commitPattern = regexp.MustCompile(`^[0-9a-f]{4,64}$`)

// ReportLeak records that a client secret was found outside Kith, in an
// oauth.client.secret_leaked event (never with the secret), and returns
// the client that holds it. With r.Revoke, a live secret is revoked at
// once: it is removed from the client (in the transaction that records
// the leak; other replicas stop accepting it within the client cache's
// lifetime) and every token issued to the client is revoked. The secret
// is found by its SHA-256 hash and compared in constant time, as at the
// token endpoint.
//
// It returns an error wrapping [ErrNotFound] when no client holds the
// secret (recorded too, as a failure), a *ValidationError for a bad
// location or commit, or the store's, the revocation set's or the
// ledger's error.
func (s *Service) ReportLeak(ctx context.Context, actor audit.Actor, r LeakReport) (Leak, error) {
	if err := r.validate(); err != nil {
		return Leak{}, err
	}
	leak := Leak{Location: r.Location, Commit: r.Commit, Places: max(r.Places, 1), At: s.clock().UTC()}
	sum := r.Secret.Hash()
	id, _, err := s.cfg.Clients.FindOAuthClientSecret(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return Leak{}, s.unknownLeak(ctx, actor, leak)
	}
	if err != nil {
		return Leak{}, mapStoreErr(err)
	}
	leak.ClientID = ClientID(id)
	rec, err := s.cfg.Clients.GetOAuthClient(ctx, id)
	if err != nil {
		return Leak{}, mapStoreErr(err)
	}
	cl, err := fromStore(rec)
	if err != nil {
		return Leak{}, err
	}
	i := holding(cl, sum)
	if i < 0 { // rotated out between the two reads
		return Leak{}, s.unknownLeak(ctx, actor, leak)
	}
	leak.EntryID, leak.SecretID = cl.EntryID, cl.Secrets[i].ID
	leak.Live = cl.hashes[i].expires.IsZero() || leak.At.Before(cl.hashes[i].expires)
	switch e, err := s.cfg.Registry.Get(ctx, cl.EntryID); {
	case err == nil:
		leak.SPIFFEID = e.SPIFFEID.String()
	case !errors.Is(err, registry.ErrNotFound):
		return Leak{}, fmt.Errorf("oauth: read entry: %w", err)
	}
	if !r.Revoke || !leak.Live {
		ev := adminEvent(actor, audit.TypeOAuthClientSecretLeaked, "report", id, leak.details())
		if _, err := s.cfg.Auditor.Record(ctx, ev); err != nil {
			return Leak{}, fmt.Errorf("oauth: record %s: %w", ev.Type, err)
		}
		return leak, nil
	}
	leak.Revoked = true
	_, err = s.update(ctx, actor, leak.ClientID, audit.TypeOAuthClientSecretLeaked, "revoke", func(c *clientRecord, _ time.Time) error {
		j := holding(c, sum)
		if j < 0 {
			return fmt.Errorf("secret %s: %w", leak.SecretID, ErrNotFound)
		}
		c.Secrets = slices.Delete(c.Secrets, j, j+1)
		c.hashes = slices.Delete(c.hashes, j, j+1)
		return nil
	}, func(*clientRecord) map[string]string { return leak.details() })
	if err != nil {
		return Leak{}, err
	}
	reason := "client secret " + leak.SecretID + " leaked"
	if err := s.RevokeTokens(ctx, actor, leak.ClientID, reason); err != nil {
		return Leak{}, err
	}
	return leak, nil
}

// holding returns the index of the secret of c whose hash is sum,
// comparing with every one in constant time; -1 if there is none.
func holding(c *clientRecord, sum [32]byte) int {
	at := -1
	for i, h := range c.hashes {
		if subtle.ConstantTimeCompare(sum[:], h.hash[:]) == 1 {
			at = i
		}
	}
	return at
}

// unknownLeak records a report of a secret no client holds, and returns
// the error that says so.
func (s *Service) unknownLeak(ctx context.Context, actor audit.Actor, leak Leak) error {
	ev := adminEvent(actor, audit.TypeOAuthClientSecretLeaked, "report", "", leak.details())
	ev.Outcome, ev.Reason = audit.OutcomeFailure, "no client holds this secret"
	if _, err := s.cfg.Auditor.Record(ctx, ev); err != nil {
		return fmt.Errorf("oauth: record %s: %w", ev.Type, err)
	}
	return fmt.Errorf("no client holds this secret: %w", ErrNotFound)
}

// details are the leak's event details.
func (l Leak) details() map[string]string {
	d := map[string]string{"location": l.Location, "places": strconv.Itoa(l.Places)}
	if l.Commit != "" {
		d["commit"] = l.Commit
	}
	if l.ClientID != "" {
		d["entry_id"] = l.EntryID
		d["spiffe_id"] = l.SPIFFEID
		d["secret_id"] = l.SecretID
		d["live"] = strconv.FormatBool(l.Live)
		d["revoked"] = strconv.FormatBool(l.Revoked)
	}
	return d
}

// validate checks what the ledger will hold: a short location of
// printable UTF-8 that holds no secret, and a git object name.
func (r LeakReport) validate() error {
	switch {
	case r.Secret.IsZero():
		return invalidField("secret", "required")
	case len(r.Location) > maxLeakLocation || !utf8.ValidString(r.Location) || strings.ContainsFunc(r.Location, isControl):
		return invalidField("location", "at most %d bytes of printable UTF-8", maxLeakLocation)
	case strings.Contains(r.Location, SecretPrefix):
		return invalidField("location", "must not hold a secret")
	case r.Commit != "" && !commitPattern.MatchString(r.Commit):
		return invalidField("commit", "must be a git commit name (4 to 64 lowercase hex digits)")
	case r.Places < 0 || r.Places > maxLeakPlaces:
		return invalidField("places", "must be between 0 and %d", maxLeakPlaces)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
