package oauth

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/policy"
)

// TrustSource gives a caller's current behavioural trust, keyed by its
// SPIFFE ID (the shape of enforce.TrustSource: the server's trust engine
// implements both). The token service asks it for the SPIFFE ID of the
// client's entry — the identity proxies key the client's calls by, since
// a token's subject is that SPIFFE ID. Trust must not block: it is asked
// on every token request.
type TrustSource interface {
	Trust(identity string) policy.Trust
}

// TrustRule is what the token service does for clients at one trust
// level. The zero TrustRule changes nothing.
type TrustRule struct {
	// Refuse refuses tokens: the answer is unauthorized_client (RFC 6749
	// §5.2; the client authenticated, but may not have a token now), and
	// the ledger's refusal says the trust.
	Refuse bool
	// TTLFraction shortens tokens: their lifetime is TokenTTL times
	// TTLFraction (at least a second). Zero or 1 leaves it; it must be
	// from 0 to 1.
	TTLFraction float64
	// DropSensitive leaves the sensitive scopes (TrustConfig.Sensitive)
	// out of tokens. A request that asked only for sensitive scopes is
	// refused with invalid_scope.
	DropSensitive bool
}

// TrustConfig is how the token service reads trust.
type TrustConfig struct {
	// Source gives the trust of a client's identity. Nil: trust is not
	// read and tokens are issued as without it.
	Source TrustSource
	// Levels maps trust levels (high, medium, low, untrusted) to rules; a
	// level not in it is left alone. Nil means [DefaultTrustLevels].
	Levels map[string]TrustRule
	// Sensitive lists the scopes DropSensitive leaves out: names, or
	// prefixes ending in '*' ("admin:*").
	Sensitive []string
}

// DefaultTrustLevels returns the default rules: high and medium trust
// change nothing; low trust gets tokens a quarter as long, without
// sensitive scopes; untrusted callers get none.
func DefaultTrustLevels() map[string]TrustRule {
	return map[string]TrustRule{
		"low":       {TTLFraction: 0.25, DropSensitive: true},
		"untrusted": {Refuse: true},
	}
}

// trustLevels are the levels of package trust, from the highest.
var trustLevels = []string{"high", "medium", "low", "untrusted"}

// check validates c and fills its default.
func (c *TrustConfig) check() error {
	if c.Levels == nil {
		c.Levels = DefaultTrustLevels()
	}
	c.Levels = maps.Clone(c.Levels)
	c.Sensitive = slices.Clone(c.Sensitive)
	for l, r := range c.Levels {
		if !slices.Contains(trustLevels, l) {
			return fmt.Errorf("Trust.Levels: unknown level %q (want high, medium, low or untrusted)", l)
		}
		if !(r.TTLFraction >= 0 && r.TTLFraction <= 1) {
			return fmt.Errorf("Trust.Levels[%s].TTLFraction %v must be from 0 to 1", l, r.TTLFraction)
		}
	}
	for _, s := range c.Sensitive {
		if s == "" || s == "*" || strings.Contains(strings.TrimSuffix(s, "*"), "*") {
			return fmt.Errorf("Trust.Sensitive: %q is not a scope or a prefix ending in '*'", s)
		}
	}
	return nil
}

// sensitive reports whether scope is one of c's sensitive scopes.
func (c *TrustConfig) sensitive(scope string) bool {
	for _, s := range c.Sensitive {
		if p, ok := strings.CutSuffix(s, "*"); ok {
			if strings.HasPrefix(scope, p) {
				return true
			}
		} else if s == scope {
			return true
		}
	}
	return false
}

// trustOf returns the trust a grant is issued under: that of the client's
// entry, or for an exchanged token the lower of the actor's and the
// subject's.
func (s *Service) trustOf(auth *authResult, g *grant) policy.Trust {
	src := s.cfg.Trust.Source
	t := src.Trust(auth.entry.SPIFFEID.String())
	if g.exchanged && g.subject != auth.entry.SPIFFEID.String() {
		if st := src.Trust(g.subject); st.Score < t.Score {
			t = st
		}
	}
	return t
}

// applyTrust adjusts grant g to the trust of its client: refused,
// shortened or narrowed as the rule for its level says, and notes in ri
// what it did, for the ledger. requested says the request named scopes.
func (s *Service) applyTrust(ri *reqInfo, auth *authResult, g *grant, requested bool, now time.Time) error {
	tc := &s.cfg.Trust
	if tc.Source == nil {
		return nil
	}
	t := s.trustOf(auth, g)
	ri.trust = &t
	rule := tc.Levels[t.Level]
	why := fmt.Errorf("trust %s (score %d%s)", t.Level, t.Score, signalList(t.Signals))
	if rule.Refuse {
		ri.trustNote = "refused"
		return &protocolError{code: codeUnauthorizedClient, desc: "this client may not obtain tokens at present", cause: why}
	}
	var notes []string
	if rule.DropSensitive && len(tc.Sensitive) > 0 {
		kept := g.scopes[:0:0]
		var dropped []string
		for _, sc := range g.scopes {
			if tc.sensitive(sc) {
				dropped = append(dropped, sc)
			} else {
				kept = append(kept, sc)
			}
		}
		if len(dropped) > 0 {
			if requested && len(kept) == 0 {
				ri.trustNote = "refused: only sensitive scopes requested"
				return &protocolError{code: codeInvalidScope, desc: "the requested scopes are not available to this client at present", cause: why}
			}
			g.scopes = kept
			notes = append(notes, "dropped scopes "+strings.Join(dropped, " "))
		}
	}
	if f := rule.TTLFraction; f > 0 && f < 1 {
		ttl := max(time.Duration(float64(s.cfg.TokenTTL)*f), time.Second).Truncate(time.Second)
		if exp := now.Add(ttl); g.notAfter.IsZero() || exp.Before(g.notAfter) {
			g.notAfter = exp
			notes = append(notes, "lifetime "+ttl.String())
		}
	}
	ri.trustNote = strings.Join(notes, "; ")
	return nil
}

// signalList returns ": a, b" for signals, or "".
func signalList(signals []string) string {
	if len(signals) == 0 {
		return ""
	}
	return ": " + strings.Join(signals, ", ")
}

// trustDetails adds the trust a request was decided under to an event's
// details.
func (k *auditKey) trustDetails(d map[string]string) {
	if k.trustLevel == "" {
		return
	}
	d["trust_level"] = k.trustLevel
	d["trust_score"] = strconv.Itoa(k.trustScore)
	if k.trustNote != "" {
		d["trust_applied"] = k.trustNote
	}
}
