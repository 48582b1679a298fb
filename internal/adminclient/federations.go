package adminclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/kith-dev/kith/api"
)

// federationPath returns the path of the federation with td, plus suffix.
func federationPath(td, suffix string) string {
	return "/v1/federations/" + url.PathEscape(td) + suffix
}

// errNoTrustDomain is returned when a call needs a trust domain and got none.
var errNoTrustDomain = errors.New("trust domain is empty")

// ListFederations returns every federation relationship.
func (c *Client) ListFederations(ctx context.Context) (*api.FederationList, error) {
	var out api.FederationList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/federations", out: &out}); err != nil {
		return nil, fmt.Errorf("list federations: %w", err)
	}
	return &out, nil
}

// AddFederation federates with the foreign trust domain f describes and
// returns the new relationship. It returns the server's *api.Problem on
// refusal.
func (c *Client) AddFederation(ctx context.Context, f api.FederationCreate) (*api.Federation, error) {
	var out api.Federation
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/federations", in: f, out: &out}); err != nil {
		return nil, fmt.Errorf("add federation %s: %w", f.TrustDomain, err)
	}
	return &out, nil
}

// GetFederation returns the federation with td. It returns the server's
// *api.Problem (404 if there is none).
func (c *Client) GetFederation(ctx context.Context, td string) (*api.Federation, error) {
	if td == "" {
		return nil, fmt.Errorf("get federation: %w", errNoTrustDomain)
	}
	var out api.Federation
	if err := c.do(ctx, call{method: http.MethodGet, path: federationPath(td, ""), out: &out}); err != nil {
		return nil, fmt.Errorf("get federation %s: %w", td, err)
	}
	return &out, nil
}

// RemoveFederation ends the federation with td. It returns the server's
// *api.Problem (404 if there is none).
func (c *Client) RemoveFederation(ctx context.Context, td string) error {
	if td == "" {
		return fmt.Errorf("remove federation: %w", errNoTrustDomain)
	}
	if err := c.do(ctx, call{method: http.MethodDelete, path: federationPath(td, "")}); err != nil {
		return fmt.Errorf("remove federation %s: %w", td, err)
	}
	return nil
}

// RefreshFederation makes the server fetch td's bundle now and returns the
// relationship afterwards; a failed fetch shows in its LastError.
func (c *Client) RefreshFederation(ctx context.Context, td string) (*api.Federation, error) {
	if td == "" {
		return nil, fmt.Errorf("refresh federation: %w", errNoTrustDomain)
	}
	var out api.Federation
	if err := c.do(ctx, call{method: http.MethodPost, path: federationPath(td, "/refresh"), out: &out}); err != nil {
		return nil, fmt.Errorf("refresh federation %s: %w", td, err)
	}
	return &out, nil
}
