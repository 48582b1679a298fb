package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// JoinToken is a stored one-time join token of a node agent. Only the
// SHA-256 of its secret is kept; package nodes owns its meaning.
type JoinToken struct {
	ID        string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when an agent attested with the token; zero while unused.
	UsedAt time.Time
	// AgentID is the agent that used the token; empty while unused.
	AgentID string
}

// Agent is a stored node agent. Package nodes owns its meaning.
type Agent struct {
	ID          string
	SPIFFEID    string
	JoinTokenID string
	// Serial is the serial number, in lower-case hex, of the agent's
	// latest X509-SVID, and SVIDExpiresAt its NotAfter.
	Serial        string
	SVIDExpiresAt time.Time
	CreatedAt     time.Time
	// RenewedAt is when the agent last renewed its SVID; zero if never.
	RenewedAt time.Time
	// EvictedAt is when the agent was evicted; zero unless it was.
	EvictedAt time.Time
}

// AgentFilter narrows ListAgents.
type AgentFilter struct {
	// After is the ID of the last agent of the previous page; agents are
	// returned in ID order.
	After string
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

const agentColumns = `id, spiffe_id, join_token_id, serial, svid_expires_at, created_at, renewed_at, evicted_at`

// CreateJoinToken stores t. It returns [ErrConflict] if a token with t.ID
// exists.
func (q queries) CreateJoinToken(ctx context.Context, t JoinToken) error {
	_, err := q.exec(ctx, `INSERT INTO join_tokens (id, hash, created_at, expires_at, used_at, agent_id)
		VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, bytesArg(t.Hash), timeArg(t.CreatedAt), t.ExpiresAt.UnixMicro(), timeArg(t.UsedAt), t.AgentID)
	if isUniqueViolation(err) {
		err = ErrConflict
	}
	if err != nil {
		return fmt.Errorf("store: create join token %q: %w", t.ID, err)
	}
	return nil
}

// GetJoinToken returns the join token with the given ID, or [ErrNotFound].
func (q queries) GetJoinToken(ctx context.Context, id string) (JoinToken, error) {
	var t JoinToken
	err := q.queryRow(ctx, `SELECT id, hash, created_at, expires_at, used_at, agent_id FROM join_tokens WHERE id = ?`, id).
		Scan(&t.ID, bytesCol{&t.Hash}, timeCol{&t.CreatedAt}, timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt}, &t.AgentID)
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return JoinToken{}, fmt.Errorf("store: get join token %q: %w", id, err)
	}
	return t, nil
}

// DeleteExpiredJoinTokens removes the join tokens, used or not, that
// expired before t, and returns how many it removed.
func (q queries) DeleteExpiredJoinTokens(ctx context.Context, t time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM join_tokens WHERE expires_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired join tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired join tokens: %w", err)
	}
	return n, nil
}

// RegisterAgent consumes the join token tokenID for agent a and stores a,
// atomically: of several calls with one token, exactly one succeeds. The
// token is consumed at a.CreatedAt, which must be before its expiry;
// a.JoinTokenID is set to tokenID.
//
// It returns [ErrNotFound] if there is no such token, and [ErrConflict] if
// the token was used already or has expired, or if an agent with a.ID
// exists (the token then stays unused).
func (q queries) RegisterAgent(ctx context.Context, tokenID string, a Agent) error {
	a.JoinTokenID = tokenID
	err := q.atomic(ctx, func(q queries) error {
		ok, err := q.execOne(ctx, `UPDATE join_tokens SET used_at = ?, agent_id = ?
			WHERE id = ? AND used_at IS NULL AND expires_at > ?`,
			timeArg(a.CreatedAt), a.ID, tokenID, a.CreatedAt.UnixMicro())
		if err != nil {
			return err
		}
		if !ok {
			var one int
			err := q.queryRow(ctx, `SELECT 1 FROM join_tokens WHERE id = ?`, tokenID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("join token: %w", ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("join token used or expired: %w", ErrConflict)
		}
		_, err = q.exec(ctx, `INSERT INTO agents (`+agentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.SPIFFEID, a.JoinTokenID, a.Serial, timeArg(a.SVIDExpiresAt),
			timeArg(a.CreatedAt), timeArg(a.RenewedAt), timeArg(a.EvictedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("agent exists: %w", ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: register agent %q: %w", a.ID, err)
	}
	return nil
}

// GetAgent returns the agent with the given ID, or [ErrNotFound].
func (q queries) GetAgent(ctx context.Context, id string) (Agent, error) {
	a, err := scanAgent(q.queryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Agent{}, fmt.Errorf("store: get agent %q: %w", id, err)
	}
	return a, nil
}

// ListAgents returns one page of agents in ID order (bytewise): those
// with an ID after f.After, at most f.Limit of them (100 when zero, never
// more than 1000). An empty page means there are no more.
func (q queries) ListAgents(ctx context.Context, f AgentFilter) ([]Agent, error) {
	rows, err := q.query(ctx, `SELECT `+agentColumns+` FROM agents WHERE id > ? ORDER BY id LIMIT ?`, f.After, pageSize(f.Limit))
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	return out, nil
}

// RenewAgent records the agent's new SVID: its serial and expiry, renewed
// at the given time. It returns [ErrNotFound] if there is no such agent and
// [ErrConflict] if it was evicted.
func (q queries) RenewAgent(ctx context.Context, id, serial string, expiresAt, at time.Time) error {
	ok, err := q.execOne(ctx, `UPDATE agents SET serial = ?, svid_expires_at = ?, renewed_at = ?
		WHERE id = ? AND evicted_at IS NULL`, serial, timeArg(expiresAt), timeArg(at), id)
	if err == nil && !ok {
		err = q.whyAgentUnchanged(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("store: renew agent %q: %w", id, err)
	}
	return nil
}

// EvictAgent marks the agent evicted at the given time and returns it as
// stored. It returns [ErrNotFound] if there is no such agent and
// [ErrConflict] if it was evicted already (its EvictedAt is kept).
func (q queries) EvictAgent(ctx context.Context, id string, at time.Time) (Agent, error) {
	var a Agent
	err := q.atomic(ctx, func(q queries) error {
		ok, err := q.execOne(ctx, `UPDATE agents SET evicted_at = ? WHERE id = ? AND evicted_at IS NULL`, timeArg(at), id)
		if err == nil && !ok {
			err = q.whyAgentUnchanged(ctx, id)
		}
		if err != nil {
			return err
		}
		a, err = scanAgent(q.queryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return Agent{}, fmt.Errorf("store: evict agent %q: %w", id, err)
	}
	return a, nil
}

// whyAgentUnchanged explains a write to a live agent that matched no row:
// the agent is missing or evicted.
func (q queries) whyAgentUnchanged(ctx context.Context, id string) error {
	var evicted time.Time
	err := q.queryRow(ctx, `SELECT evicted_at FROM agents WHERE id = ?`, id).Scan(timeCol{&evicted})
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("agent evicted at %v: %w", evicted, ErrConflict)
}

func scanAgent(s scanner) (Agent, error) {
	var a Agent
	err := s.Scan(&a.ID, &a.SPIFFEID, &a.JoinTokenID, &a.Serial, timeCol{&a.SVIDExpiresAt},
		timeCol{&a.CreatedAt}, timeCol{&a.RenewedAt}, timeCol{&a.EvictedAt})
	return a, err
}
