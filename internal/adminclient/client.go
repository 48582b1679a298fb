package adminclient

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultAddr is the address of the admin API when none is configured.
const DefaultAddr = "127.0.0.1:8443"

// maxResponseBytes caps the size of any reply the client reads.
const maxResponseBytes = 8 << 20

// Config configures a [Client].
type Config struct {
	// Addr is the host:port of the admin API, or its base URL
	// https://host:port; empty means [DefaultAddr]. An empty or
	// unspecified host (":8443", "0.0.0.0:8443") means loopback.
	Addr string
	// Token is the admin token sent as a bearer token on /v1 routes.
	// Required.
	Token Token
	// Roots are the trust anchors the server's certificate chain must
	// verify against. Required unless HTTPClient is set.
	Roots []*x509.Certificate
	// TrustDomain, if set, pins the server's SPIFFE ID to
	// spiffe://<TrustDomain>/kith/server. If empty, the client accepts
	// spiffe://<any trust domain>/kith/server chaining to Roots.
	TrustDomain string
	// HTTPClient, if set, is used as is instead of a client built from
	// Roots and TrustDomain; it must authenticate the server itself. It is
	// meant for tests.
	HTTPClient *http.Client
}

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	base  url.URL
	token Token
	http  *http.Client
}

// New returns a Client for cfg. It returns an error if the token is
// missing, Addr is not host:port, TrustDomain is not a trust domain name, or
// Roots is empty (without an HTTPClient). It does not contact the server.
func New(cfg Config) (*Client, error) {
	if cfg.Token.IsZero() {
		return nil, errors.New("adminclient: Config.Token is required")
	}
	base, hc, err := ServerClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{base: base, token: cfg.Token, http: hc}, nil
}

// ServerClient returns the server's base URL and an HTTP client that
// verifies the server the SPIFFE way, as [New]'s does: its X509-SVID
// chains to cfg.Roots and names spiffe://<cfg.TrustDomain>/kith/server
// (any trust domain when it is empty). It sends no admin token: it is for
// the server's public routes, health and the token endpoint. cfg.Token
// is ignored; cfg.HTTPClient, if set, is returned as is. It returns an
// error for a malformed address or trust domain, or no roots.
func ServerClient(cfg Config) (url.URL, *http.Client, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	addr, err := dialAddr(cfg.Addr)
	if err != nil {
		return url.URL{}, nil, fmt.Errorf("adminclient: address %q is not host:port or https://host:port: %w", cfg.Addr, err)
	}
	var td spiffeid.TrustDomain
	if cfg.TrustDomain != "" {
		if td, err = spiffeid.TrustDomainFromString(cfg.TrustDomain); err != nil {
			return url.URL{}, nil, fmt.Errorf("adminclient: trust domain %q: %w", cfg.TrustDomain, err)
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tc, err := tlsConfig(cfg.Roots, td)
		if err != nil {
			return url.URL{}, nil, fmt.Errorf("adminclient: %w", err)
		}
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tc,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	return url.URL{Scheme: "https", Host: addr}, hc, nil
}

// dialAddr returns the address to dial for addr, a host:port with a
// numeric port or the base URL https://host:port (with port 443 when it
// has none). An empty or unspecified host, as in a listen address such as
// ":8443" or "0.0.0.0:8443", becomes the loopback address.
func dialAddr(addr string) (string, error) {
	if scheme, rest, ok := strings.Cut(addr, "://"); ok {
		if !strings.EqualFold(scheme, "https") {
			return "", fmt.Errorf("the admin API is served over https, not %s", scheme)
		}
		addr = strings.TrimSuffix(rest, "/")
		if _, _, err := net.SplitHostPort(addr); err != nil && !strings.ContainsAny(addr, "/@?#") {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "443")
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(host, "/@?#") {
		return "", errors.New("bad host")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", errors.New("bad port")
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// call is one admin API request.
type call struct {
	method string
	path   string     // escaped path, such as "/v1/entries/abc"
	query  url.Values // nil for none
	in     any        // request body, JSON-encoded; nil for none
	out    any        // decoded from a 2xx reply; nil to discard it
	raw    *[]byte    // receives the raw 2xx reply instead of out
	public bool       // a public route: no Authorization header
}

// do performs c. A non-2xx reply becomes a *api.Problem or a *StatusError.
func (cl *Client) do(ctx context.Context, c call) error {
	resp, err := cl.send(ctx, c)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if len(b) > maxResponseBytes {
		return fmt.Errorf("reply larger than %d bytes", maxResponseBytes)
	}
	switch {
	case c.raw != nil:
		*c.raw = b
	case c.out != nil:
		if err := json.Unmarshal(b, c.out); err != nil {
			return fmt.Errorf("decode reply: %w", err)
		}
	}
	return nil
}

// send sends c's request and returns the 2xx reply, whose body the caller
// must close; c.out and c.raw are ignored. A non-2xx reply becomes a
// *api.Problem or a *StatusError.
func (cl *Client) send(ctx context.Context, c call) (*http.Response, error) {
	path, err := url.PathUnescape(c.path)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %w", c.path, err)
	}
	u := cl.base
	u.Path, u.RawPath = path, c.path
	u.RawQuery = c.query.Encode()

	var body io.Reader
	if c.in != nil {
		b, err := json.Marshal(c.in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "kith-adminclient")
	if c.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.public {
		req.Header.Set("Authorization", cl.token.bearer())
	}

	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, err // a *url.Error, naming the method and URL
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		if err != nil {
			return nil, fmt.Errorf("read reply: %w", err)
		}
		return nil, replyError(resp, b)
	}
	return resp, nil
}
