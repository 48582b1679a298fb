package adminclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kith-dev/kith/api"
)

// AgentFilter pages [Client.ListAgents].
type AgentFilter struct {
	// After is the cursor of the page to read: the Next of the previous
	// page; empty for the first page.
	After string
	// Limit caps the page size; zero means the server default.
	Limit int
}

func (f AgentFilter) query() url.Values {
	q := url.Values{}
	setIf(q, "after", f.After)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// agentPath returns the path of the agent id, plus suffix.
func agentPath(id, suffix string) string { return "/v1/agents/" + url.PathEscape(id) + suffix }

// errNoAgentID is returned when a call needs an agent ID and got none.
var errNoAgentID = errors.New("agent ID is empty")

// CreateJoinToken makes a one-time join token for a node agent, valid for
// ttl (zero: the server's default, one hour). The answer is the only place
// the token's secret appears. It returns the server's *api.Problem on
// refusal (400 for a TTL out of range).
func (c *Client) CreateJoinToken(ctx context.Context, ttl time.Duration) (*api.JoinToken, error) {
	var out api.JoinToken
	in := api.JoinTokenCreate{TTL: api.Duration(ttl)}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/agents/join-tokens", in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("create join token: %w", err)
	}
	return &out, nil
}

// ListAgents returns one page of node agents; the page's Next, if not
// empty, is the After of the following page. It returns the server's
// *api.Problem on refusal.
func (c *Client) ListAgents(ctx context.Context, f AgentFilter) (*api.AgentList, error) {
	var out api.AgentList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/agents", query: f.query(), out: &out}); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return &out, nil
}

// ListAllAgents returns every agent, reading page after page from f.After
// on (f.Limit sets the page size). It returns an error if a page fails or
// the server repeats a cursor.
func (c *Client) ListAllAgents(ctx context.Context, f AgentFilter) ([]api.Agent, error) {
	return listAll(ctx, "agents", f.After, func(ctx context.Context, after string) ([]api.Agent, string, error) {
		f.After = after
		page, err := c.ListAgents(ctx, f)
		if err != nil {
			return nil, "", err
		}
		return page.Agents, page.Next, nil
	})
}

// GetAgent returns the agent id. It returns the server's *api.Problem (404
// if there is no such agent).
func (c *Client) GetAgent(ctx context.Context, id string) (*api.Agent, error) {
	if id == "" {
		return nil, fmt.Errorf("get agent: %w", errNoAgentID)
	}
	var out api.Agent
	if err := c.do(ctx, call{method: http.MethodGet, path: agentPath(id, ""), out: &out}); err != nil {
		return nil, fmt.Errorf("get agent %s: %w", id, err)
	}
	return &out, nil
}

// EvictAgent evicts the agent id: it loses its identity, and every
// unexpired X509-SVID issued through it is revoked. Evicting an evicted
// agent succeeds again. It returns the server's *api.Problem (404 if there
// is no such agent).
func (c *Client) EvictAgent(ctx context.Context, id string) (*api.AgentEviction, error) {
	if id == "" {
		return nil, fmt.Errorf("evict agent: %w", errNoAgentID)
	}
	var out api.AgentEviction
	if err := c.do(ctx, call{method: http.MethodPost, path: agentPath(id, "/evict"), out: &out}); err != nil {
		return nil, fmt.Errorf("evict agent %s: %w", id, err)
	}
	return &out, nil
}

// RevokeEntry revokes every credential issued so far for the entry id's
// SPIFFE ID; the entry stays active, so its workloads get fresh ones. It
// returns the server's *api.Problem (404 if there is no such entry).
func (c *Client) RevokeEntry(ctx context.Context, id string) (*api.EntryRevocation, error) {
	return c.entryAction(ctx, "revoke", id)
}

// QuarantineEntry stops issuance for the entry id until
// [Client.ReleaseEntry] and revokes its current credentials. It returns
// the server's *api.Problem (404 if there is no such entry).
func (c *Client) QuarantineEntry(ctx context.Context, id string) (*api.EntryRevocation, error) {
	return c.entryAction(ctx, "quarantine", id)
}

// ReleaseEntry makes a quarantined or disabled entry active again. It
// returns the server's *api.Problem (404 if there is no such entry).
func (c *Client) ReleaseEntry(ctx context.Context, id string) (*api.Entry, error) {
	if id == "" {
		return nil, fmt.Errorf("release entry: %w", errNoID)
	}
	var out api.Entry
	if err := c.do(ctx, call{method: http.MethodPost, path: entryPath(id) + "/release", out: &out}); err != nil {
		return nil, fmt.Errorf("release entry %s: %w", id, err)
	}
	return &out, nil
}

func (c *Client) entryAction(ctx context.Context, action, id string) (*api.EntryRevocation, error) {
	if id == "" {
		return nil, fmt.Errorf("%s entry: %w", action, errNoID)
	}
	var out api.EntryRevocation
	if err := c.do(ctx, call{method: http.MethodPost, path: entryPath(id) + "/" + action, out: &out}); err != nil {
		return nil, fmt.Errorf("%s entry %s: %w", action, id, err)
	}
	return &out, nil
}
