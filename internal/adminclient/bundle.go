package adminclient

import (
	"context"
	"fmt"
	"net/http"
)

// Bundle returns the server's trust domain bundle as served: a SPIFFE bundle
// (JWKS) document, to parse with spiffebundle.Parse.
func (c *Client) Bundle(ctx context.Context) ([]byte, error) {
	var raw []byte
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/bundle", raw: &raw}); err != nil {
		return nil, fmt.Errorf("get bundle: %w", err)
	}
	return raw, nil
}

// Health returns nil if the server answers its public /healthz route with a
// 2xx status. It does not send the admin token.
func (c *Client) Health(ctx context.Context) error {
	if err := c.do(ctx, call{method: http.MethodGet, path: "/healthz", public: true}); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}
