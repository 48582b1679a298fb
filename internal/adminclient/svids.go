package adminclient

import (
	"context"
	"fmt"
	"net/http"

	"github.com/kith-dev/kith/api"
)

// MintX509SVID has the CA sign an X509-SVID for the CSR in m. It returns the
// server's *api.Problem on refusal.
func (c *Client) MintX509SVID(ctx context.Context, m api.X509SVIDMint) (*api.X509SVID, error) {
	var out api.X509SVID
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/svids/x509", in: m, out: &out}); err != nil {
		return nil, fmt.Errorf("mint X509-SVID for %s: %w", m.SPIFFEID, err)
	}
	return &out, nil
}

// MintJWTSVID has the CA sign a JWT-SVID. It returns the server's
// *api.Problem on refusal.
func (c *Client) MintJWTSVID(ctx context.Context, m api.JWTSVIDMint) (*api.JWTSVID, error) {
	var out api.JWTSVID
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/svids/jwt", in: m, out: &out}); err != nil {
		return nil, fmt.Errorf("mint JWT-SVID for %s: %w", m.SPIFFEID, err)
	}
	return &out, nil
}
