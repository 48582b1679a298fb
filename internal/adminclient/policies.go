package adminclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kith-dev/kith/api"
)

// errNoPolicyName is returned when a call needs a policy name and got
// none.
var errNoPolicyName = errors.New("policy name is empty")

// policyPath returns the path of the policy name.
func policyPath(name string) string { return "/v1/policies/" + url.PathEscape(name) }

// GetPolicies returns the latest revision of the policy set. It returns
// the server's *api.Problem on refusal.
func (c *Client) GetPolicies(ctx context.Context) (*api.PolicySet, error) {
	var out api.PolicySet
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/policies", out: &out}); err != nil {
		return nil, fmt.Errorf("get policies: %w", err)
	}
	return &out, nil
}

// GetPolicy returns the policy called name. It returns the server's
// *api.Problem (404 if there is no such policy).
func (c *Client) GetPolicy(ctx context.Context, name string) (*api.Policy, error) {
	if name == "" {
		return nil, fmt.Errorf("get policy: %w", errNoPolicyName)
	}
	var out api.Policy
	if err := c.do(ctx, call{method: http.MethodGet, path: policyPath(name), out: &out}); err != nil {
		return nil, fmt.Errorf("get policy %s: %w", name, err)
	}
	return &out, nil
}

// ApplyPolicies creates or replaces policies (JSON documents) as one new
// revision of the set. It returns the server's *api.Problem on refusal
// (400 naming the field of an invalid policy).
func (c *Client) ApplyPolicies(ctx context.Context, policies []json.RawMessage) (*api.PolicyApplyResult, error) {
	var out api.PolicyApplyResult
	in := api.PolicyApply{Policies: policies}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/policies", in: in, out: &out}); err != nil {
		return nil, fmt.Errorf("apply policies: %w", err)
	}
	return &out, nil
}

// DeletePolicy removes the policy called name as a new revision of the
// set. It returns the server's *api.Problem (404 if there is no such
// policy).
func (c *Client) DeletePolicy(ctx context.Context, name string) (*api.PolicyApplyResult, error) {
	if name == "" {
		return nil, fmt.Errorf("delete policy: %w", errNoPolicyName)
	}
	var out api.PolicyApplyResult
	if err := c.do(ctx, call{method: http.MethodDelete, path: policyPath(name), out: &out}); err != nil {
		return nil, fmt.Errorf("delete policy %s: %w", name, err)
	}
	return &out, nil
}
