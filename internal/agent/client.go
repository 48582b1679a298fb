package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/agentproto"
)

// maxReplySize caps a reply of the server other than the sync stream.
const maxReplySize = 8 << 20

// serverError is a non-2xx reply of the server.
type serverError struct {
	status  int
	problem *api.Problem // nil when the body was not a problem document
}

func (e *serverError) Error() string {
	if e.problem != nil {
		return "server refused: " + e.problem.Error()
	}
	return fmt.Sprintf("server answered %d %s", e.status, http.StatusText(e.status))
}

// statusOf returns the HTTP status of a serverError in err's chain, or 0.
func statusOf(err error) int {
	if se := (*serverError)(nil); errors.As(err, &se) {
		return se.status
	}
	return 0
}

// authorizeServer accepts spiffe://td/kith/server, or with a zero td (a
// first start whose trust domain is not known yet) the server ID of any
// trust domain whose chain verifies against the bootstrap roots.
func authorizeServer(td spiffeid.TrustDomain) tlsconfig.Authorizer {
	if !td.IsZero() {
		return tlsconfig.AuthorizeID(spiffeid.RequireFromPath(td, serverPath))
	}
	return tlsconfig.AdaptMatcher(func(id spiffeid.ID) error {
		if id.Path() != serverPath {
			return fmt.Errorf("server presented %q, want spiffe://<trust domain>%s", id, serverPath)
		}
		return nil
	})
}

// newTransport returns an HTTP/2-capable transport using tc, which pings an
// idle connection to detect a dead peer.
func newTransport(tc *tls.Config) *http.Transport {
	tc.MinVersion = tls.VersionTLS12
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}

// mtlsClient returns a client that presents the agent's SVID and accepts
// only the server's SVID chaining to the own trust domain's bundle.
func mtlsClient(svid x509svid.Source, bundle x509bundle.Source, td spiffeid.TrustDomain) *http.Client {
	return &http.Client{Transport: newTransport(tlsconfig.MTLSClientConfig(svid, bundle, authorizeServer(td)))}
}

// bootstrapClient returns the client of the first attestation: it verifies
// the server against roots, or, when insecure, not at all.
func bootstrapClient(roots []*x509.Certificate, td spiffeid.TrustDomain, insecure bool) *http.Client {
	if insecure {
		return &http.Client{Transport: newTransport(&tls.Config{InsecureSkipVerify: true})} //nolint:gosec // explicit, logged opt-in
	}
	src := rootsSource{roots: roots, td: td}
	return &http.Client{Transport: newTransport(tlsconfig.TLSClientConfig(src, authorizeServer(td)))}
}

// rootsSource answers with the bootstrap roots for the pinned trust domain,
// or any when none is pinned yet.
type rootsSource struct {
	roots []*x509.Certificate
	td    spiffeid.TrustDomain
}

func (s rootsSource) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if !s.td.IsZero() && td != s.td {
		return nil, fmt.Errorf("server certificate of trust domain %q, want %q", td, s.td)
	}
	return x509bundle.FromX509Authorities(td, s.roots), nil
}

// endpoint returns the URL of path (with query) under base.
func endpoint(base *url.URL, path string, query url.Values) string {
	u := *base
	u.Path = base.Path + path
	u.RawQuery = query.Encode()
	return u.String()
}

// postJSON POSTs in as JSON to path and decodes the reply into out. A
// non-2xx reply becomes a *serverError.
func postJSON(ctx context.Context, hc *http.Client, base *url.URL, path string, in, out any) error {
	return postJSONHeader(ctx, hc, base, path, nil, in, out)
}

// postJSONHeader is postJSON with the request headers hdr added.
func postJSONHeader(ctx context.Context, hc *http.Client, base *url.URL, path string, hdr http.Header, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(base, path, nil), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(agentproto.ProtocolHeader, agentproto.ProtocolVersion)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplySize+1))
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if len(data) > maxReplySize {
		return fmt.Errorf("reply over %d bytes", maxReplySize)
	}
	if resp.StatusCode/100 != 2 {
		return replyError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}

// replyError turns a non-2xx reply into a *serverError.
func replyError(resp *http.Response, body []byte) error {
	se := &serverError{status: resp.StatusCode}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		var p api.Problem
		if json.Unmarshal(body, &p) == nil && p.Title != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			se.problem = &p
		}
	}
	return se
}
