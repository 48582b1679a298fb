// Package healthcheck checks that a Kith server or node agent is up and
// healthy, as `kith healthcheck` does (like spire-server and spire-agent
// healthcheck): the server over HTTPS, verified the SPIFFE way by the
// caller's HTTP client, the agent through its Workload API socket or its
// health address.
//
// It only asks and reports; it changes nothing and retries nothing.
package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnhealthy is wrapped by the errors of a check that reached its
// target and was told it is not healthy (not ready, a failing status).
var ErrUnhealthy = errors.New("unhealthy")

// Report is the outcome of a check that passed.
type Report struct {
	// Target is what was checked: the URL asked or the socket.
	Target string `json:"target"`
	// SPIFFEID is the server's SPIFFE ID as its verified certificate
	// names it; empty for an agent.
	SPIFFEID string `json:"spiffe_id,omitempty"`
	// Detail is what the target answered, in one line.
	Detail string `json:"detail"`
}

// ServerConfig configures [Server].
type ServerConfig struct {
	// BaseURL is the server's https://host:port. Required.
	BaseURL url.URL
	// HTTPClient must verify the server the SPIFFE way (see
	// adminclient.ServerClient). Required.
	HTTPClient *http.Client
	// Shallow asks /healthz (the process serves) instead of /readyz
	// (the store is reachable and the audit ledger verified).
	Shallow bool
}

// Server checks the server at cfg.BaseURL: one GET of /readyz, or of
// /healthz with Shallow, through cfg.HTTPClient. It returns an error
// wrapping [ErrUnhealthy] when the server answers anything but 200 (with
// the reason it gives), or the transport's error when it cannot be
// reached or verified.
func Server(ctx context.Context, cfg ServerConfig) (Report, error) {
	if cfg.HTTPClient == nil || cfg.BaseURL.Host == "" {
		return Report{}, errors.New("healthcheck: ServerConfig needs BaseURL and HTTPClient")
	}
	u := cfg.BaseURL
	u.Path = "/readyz"
	if cfg.Shallow {
		u.Path = "/healthz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Report{}, fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return Report{}, fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r := Report{Target: u.String(), Detail: oneLine(body)}
	var st struct{ Status, Reason string }
	if json.Unmarshal(body, &st) == nil && st.Status != "" {
		r.Detail = st.Status
		if st.Reason != "" {
			r.Detail += ": " + st.Reason
		}
	}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		if id, err := x509svid.IDFromCert(resp.TLS.PeerCertificates[0]); err == nil {
			r.SPIFFEID = id.String()
		}
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("healthcheck: %s: %w: %s: %s", u.String(), ErrUnhealthy, resp.Status, r.Detail)
	}
	return r, nil
}

// AgentConfig configures [Agent]: one of Socket and HealthAddr.
type AgentConfig struct {
	// Socket is the agent's Workload API address, such as
	// unix:///run/kith/agent.sock.
	Socket string
	// HealthAddr is the agent's health address (its --health-addr),
	// host:port, served over plain HTTP.
	HealthAddr string
	// HTTPClient asks HealthAddr; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// Agent checks a node agent. Through Socket it asks the Workload API for
// the trust bundles, as a workload would: an answer, or a refusal because
// the calling process has no identity there (the agent attested it and
// found no entry), means the agent serves. Through HealthAddr it asks
// /readyz. It returns an error wrapping [ErrUnhealthy] when /readyz
// answers that the agent cannot serve, or the Workload API's or the
// transport's error.
func Agent(ctx context.Context, cfg AgentConfig) (Report, error) {
	switch {
	case (cfg.Socket == "") == (cfg.HealthAddr == ""):
		return Report{}, errors.New("healthcheck: AgentConfig needs one of Socket and HealthAddr")
	case cfg.HealthAddr != "":
		return agentHTTP(ctx, cfg)
	}
	c, err := workloadapi.New(ctx, workloadapi.WithAddr(cfg.Socket))
	if err != nil {
		return Report{}, fmt.Errorf("healthcheck: %s: %w", cfg.Socket, err)
	}
	defer c.Close()
	r := Report{Target: cfg.Socket}
	bundles, err := c.FetchX509Bundles(ctx)
	switch status.Code(err) {
	case codes.OK:
		r.Detail = fmt.Sprintf("Workload API serving, %d trust bundle(s)", bundles.Len())
		return r, nil
	case codes.PermissionDenied:
		r.Detail = "Workload API serving (this process has no identity there)"
		return r, nil
	}
	return r, fmt.Errorf("healthcheck: %s: %w", cfg.Socket, err)
}

// agentHTTP asks the agent's /readyz.
func agentHTTP(ctx context.Context, cfg AgentConfig) (Report, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	u := url.URL{Scheme: "http", Host: cfg.HealthAddr, Path: "/readyz"}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Report{}, fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Report{}, fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r := Report{Target: u.String(), Detail: oneLine(body)}
	var st struct {
		SPIFFEID string `json:"spiffe_id"`
		Ready    bool   `json:"ready"`
	}
	if json.Unmarshal(body, &st) == nil && st.SPIFFEID != "" {
		r.Detail = fmt.Sprintf("agent %s ready: %t", st.SPIFFEID, st.Ready)
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("healthcheck: %s: %w: %s: %s", u.String(), ErrUnhealthy, resp.Status, r.Detail)
	}
	return r, nil
}

// oneLine returns b as one trimmed line of at most 200 bytes.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
