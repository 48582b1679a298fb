package nodes

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/store"
)

// agentPathPrefix is the path of every agent's SPIFFE ID, before its ID.
const agentPathPrefix = "/kith/agent/"

// agentIDLen is the length of an agent ID: 128 random bits in hex.
const agentIDLen = 32

// Agent is an attested node agent.
type Agent struct {
	ID string
	// SPIFFEID is spiffe://<td>/kith/agent/<ID>.
	SPIFFEID    spiffeid.ID
	JoinTokenID string
	// SerialNumber is the lower-case hex serial of the agent's latest
	// X509-SVID and SVIDExpiresAt its expiry.
	SerialNumber  string
	SVIDExpiresAt time.Time
	CreatedAt     time.Time
	// RenewedAt is when the agent last renewed its SVID; zero if never.
	RenewedAt time.Time
	// EvictedAt is when the agent was evicted; zero unless it was.
	EvictedAt time.Time
}

// Evicted reports whether the agent was evicted.
func (a Agent) Evicted() bool { return !a.EvictedAt.IsZero() }

// AgentSPIFFEID returns the SPIFFE ID of agent id in trust domain td,
// spiffe://<td>/kith/agent/<id>. It returns an error if id is not a valid
// path segment.
func AgentSPIFFEID(td spiffeid.TrustDomain, id string) (spiffeid.ID, error) {
	return spiffeid.FromSegments(td, "kith", "agent", id)
}

// agentIDOf returns the agent ID in an agent SPIFFE ID of td, or false.
func agentIDOf(td spiffeid.TrustDomain, id spiffeid.ID) (string, bool) {
	if id.TrustDomain() != td {
		return "", false
	}
	rest, ok := strings.CutPrefix(id.Path(), agentPathPrefix)
	if !ok || len(rest) != agentIDLen || !isLowerHex(rest) {
		return "", false
	}
	return rest, true
}

func agentFromRecord(r store.Agent) (Agent, error) {
	id, err := spiffeid.FromString(r.SPIFFEID)
	if err != nil {
		return Agent{}, fmt.Errorf("nodes: stored agent %s: %w", r.ID, err)
	}
	return Agent{ID: r.ID, SPIFFEID: id, JoinTokenID: r.JoinTokenID, SerialNumber: r.Serial,
		SVIDExpiresAt: r.SVIDExpiresAt, CreatedAt: r.CreatedAt, RenewedAt: r.RenewedAt, EvictedAt: r.EvictedAt}, nil
}

// AttestRequest is an agent's request for its identity.
type AttestRequest struct {
	// JoinToken is the one-time token the admin created.
	JoinToken string
	// CSR is a DER PKCS#10 request for the agent's key; its signature is
	// the proof of possession.
	CSR []byte
	// RemoteAddr is the network address of the agent, for the ledger.
	RemoteAddr string
}

// Attestation is a successful attestation: the new agent and its SVID.
type Attestation struct {
	Agent Agent
	SVID  *ca.X509SVID
}

// Attest exchanges a join token for an agent identity: it checks the
// token, mints an X509-SVID for a new agent ID with the CSR's key,
// consumes the token and stores the agent in one step, and records
// "agent.attested". Every refusal is recorded too.
//
// It returns an error wrapping [ErrInvalidJoinToken] for a malformed,
// unknown or wrong token, [ErrJoinTokenUsed] or [ErrJoinTokenExpired], the
// CA's error for a bad CSR (ca.ErrInvalidCSR, ca.ErrUnsupportedKey) or no
// signing key (ca.ErrUnavailable), or the store's or ledger's error.
func (s *Service) Attest(ctx context.Context, req AttestRequest) (*Attestation, error) {
	actor := audit.Actor{Kind: "agent", ID: "unattested", CredentialType: "join_token", RemoteAddr: req.RemoteAddr}
	tokenID, err := s.checkJoinToken(ctx, req.JoinToken)
	actor.CredentialID = tokenID
	if err != nil {
		return nil, s.refuseAttest(ctx, actor, err)
	}
	var idBytes [agentIDLen / 2]byte
	rand.Read(idBytes[:])
	agentID := hex.EncodeToString(idBytes[:])
	spiffeID, err := AgentSPIFFEID(s.cfg.TrustDomain, agentID)
	if err != nil {
		return nil, fmt.Errorf("nodes: agent id: %w", err)
	}
	svid, err := s.cfg.CA.MintX509SVID(ctx, ca.X509Params{CSR: req.CSR, SPIFFEID: spiffeID, TTL: s.cfg.AgentSVIDTTL})
	if err != nil {
		if errors.Is(err, ca.ErrInvalidCSR) || errors.Is(err, ca.ErrUnsupportedKey) {
			return nil, s.refuseAttest(ctx, actor, err)
		}
		return nil, fmt.Errorf("nodes: mint agent svid: %w", err)
	}
	now := s.now()
	rec := store.Agent{ID: agentID, SPIFFEID: spiffeID.String(), Serial: svid.SerialNumber.Text(16),
		SVIDExpiresAt: svid.ExpiresAt, CreatedAt: now}
	switch err := s.cfg.Store.RegisterAgent(ctx, tokenID, rec); {
	case errors.Is(err, store.ErrConflict):
		// Another attestation won the token between the check and now,
		// or it expired in between: the SVID just minted is dropped.
		return nil, s.refuseAttest(ctx, actor, s.whyTokenRefused(ctx, tokenID))
	case errors.Is(err, store.ErrNotFound):
		return nil, s.refuseAttest(ctx, actor, ErrInvalidJoinToken)
	case err != nil:
		return nil, fmt.Errorf("nodes: register agent: %w", err)
	}
	rec.JoinTokenID = tokenID
	agent, err := agentFromRecord(rec)
	if err != nil {
		return nil, err
	}
	actor.ID = spiffeID.String()
	if err := s.record(ctx, audit.Event{
		Type: audit.TypeAgentAttested, Actor: actor, Target: agentID, Action: "attest", Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"join_token": tokenID, "spiffe_id": spiffeID.String(), "serial": rec.Serial,
			"expires_at": svid.ExpiresAt.UTC().Format(time.RFC3339)},
	}); err != nil {
		return nil, err
	}
	s.cfg.Logger.InfoContext(ctx, "agent attested", "agent_id", agentID, "join_token", tokenID)
	return &Attestation{Agent: agent, SVID: svid}, nil
}

// checkJoinToken parses tok and checks it against the store. It returns
// the token's ID when tok is well formed (even if refused, for the ledger)
// and nil or the reason for a refusal.
func (s *Service) checkJoinToken(ctx context.Context, tok string) (string, error) {
	id, secret, err := parseJoinToken(tok)
	if err != nil {
		return "", err
	}
	rec, err := s.cfg.Store.GetJoinToken(ctx, id)
	// An unknown ID is compared against zeros, which no SHA-256 output
	// matches, so that the work done is the same as for a known ID.
	want := make([]byte, 32)
	switch {
	case err == nil:
		want = rec.Hash
	case !errors.Is(err, store.ErrNotFound):
		return id, fmt.Errorf("nodes: join token lookup: %w", err)
	}
	if subtle.ConstantTimeCompare(secretHash(secret), want) != 1 || err != nil {
		return id, fmt.Errorf("%w: unknown token or wrong secret", ErrInvalidJoinToken)
	}
	switch {
	case !rec.UsedAt.IsZero():
		return id, ErrJoinTokenUsed
	case !s.cfg.Clock().Before(rec.ExpiresAt):
		return id, ErrJoinTokenExpired
	}
	return id, nil
}

// whyTokenRefused explains why RegisterAgent refused a token that
// checkJoinToken accepted a moment before.
func (s *Service) whyTokenRefused(ctx context.Context, id string) error {
	rec, err := s.cfg.Store.GetJoinToken(ctx, id)
	switch {
	case err != nil:
		return ErrInvalidJoinToken
	case !rec.UsedAt.IsZero():
		return ErrJoinTokenUsed
	}
	return ErrJoinTokenExpired
}

// refuseAttest records a refused attestation and returns cause, unless
// cause is an internal failure, which is returned unrecorded.
func (s *Service) refuseAttest(ctx context.Context, actor audit.Actor, cause error) error {
	reason := ""
	for _, known := range []error{ErrInvalidJoinToken, ErrJoinTokenUsed, ErrJoinTokenExpired, ca.ErrInvalidCSR, ca.ErrUnsupportedKey} {
		if errors.Is(cause, known) {
			reason = known.Error()
			break
		}
	}
	if reason == "" {
		return cause
	}
	_ = s.record(ctx, audit.Event{
		Type: audit.TypeAgentAttested, Actor: actor, Target: actor.CredentialID, Action: "attest",
		Outcome: audit.OutcomeDenied, Reason: reason,
	})
	s.cfg.Logger.InfoContext(ctx, "agent attestation refused", "join_token", actor.CredentialID, "reason", reason)
	return cause
}
