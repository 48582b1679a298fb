package store

import (
	"context"
	"fmt"
	"time"
)

// AgentSVID records one workload X509-SVID issued through a node agent, so
// that evicting the agent can revoke every one that is still valid. There
// is one row per issuance: a workload's SVID is renewed at about half its
// lifetime, so an agent has about two rows per workload it serves, and rows
// are deleted once expired.
type AgentSVID struct {
	// Serial is the certificate's serial number in lower-case hex.
	Serial    string
	AgentID   string
	EntryID   string
	SPIFFEID  string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AgentSVIDFilter narrows ListAgentSVIDs.
type AgentSVIDFilter struct {
	// AgentID selects the SVIDs issued through one agent. Required.
	AgentID string
	// ExpiresAfter, when not zero, selects SVIDs that expire after it.
	ExpiresAfter time.Time
	// After is the serial of the last SVID of the previous page; SVIDs are
	// returned in serial order.
	After string
	// Limit caps the page size; zero means 100, and it is capped at 1000.
	Limit int
}

// PutAgentSVID records s. It returns [ErrConflict] if an SVID with the
// same serial is recorded.
func (q queries) PutAgentSVID(ctx context.Context, s AgentSVID) error {
	_, err := q.exec(ctx, `INSERT INTO agent_svids (serial, agent_id, entry_id, spiffe_id, issued_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		s.Serial, s.AgentID, s.EntryID, s.SPIFFEID, timeArg(s.IssuedAt), s.ExpiresAt.UnixMicro())
	if isUniqueViolation(err) {
		err = ErrConflict
	}
	if err != nil {
		return fmt.Errorf("store: put agent svid %q: %w", s.Serial, err)
	}
	return nil
}

// ListAgentSVIDs returns one page of the SVIDs matching f, in serial order
// (bytewise), at most f.Limit of them (100 when zero, never more than
// 1000). An empty page means there are no more.
func (q queries) ListAgentSVIDs(ctx context.Context, f AgentSVIDFilter) ([]AgentSVID, error) {
	var w where
	w.add("agent_id = ?", f.AgentID)
	if !f.ExpiresAfter.IsZero() {
		w.add("expires_at > ?", f.ExpiresAfter.UnixMicro())
	}
	w.add("serial > ?", f.After)
	rows, err := q.query(ctx, `SELECT serial, agent_id, entry_id, spiffe_id, issued_at, expires_at FROM agent_svids`+
		w.String()+` ORDER BY serial LIMIT ?`, append(w.args, pageSize(f.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("store: list agent svids: %w", err)
	}
	defer rows.Close()
	var out []AgentSVID
	for rows.Next() {
		var s AgentSVID
		if err := rows.Scan(&s.Serial, &s.AgentID, &s.EntryID, &s.SPIFFEID, timeCol{&s.IssuedAt}, timeCol{&s.ExpiresAt}); err != nil {
			return nil, fmt.Errorf("store: list agent svids: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list agent svids: %w", err)
	}
	return out, nil
}

// DeleteExpiredAgentSVIDs removes the SVID records that expired before t
// and returns how many it removed.
func (q queries) DeleteExpiredAgentSVIDs(ctx context.Context, t time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM agent_svids WHERE expires_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("store: delete expired agent svids: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired agent svids: %w", err)
	}
	return n, nil
}
