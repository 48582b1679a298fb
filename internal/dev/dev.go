// Package dev runs the `kith dev` demo: a control plane on an embedded store
// in a throwaway folder, with a demo trust domain, a few registered
// workloads and a node agent serving the Workload API to the current user,
// and tells the user what to try next.
//
// It is for a first look and for demos, never for production: it prints the
// admin token to the terminal.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/server"
)

// Config configures [Run].
type Config struct {
	// DataDir is the data folder; empty means a new temporary folder that
	// is removed when Run returns.
	DataDir string
	// TrustDomain is the demo trust domain; "example.org" when empty.
	TrustDomain string
	// ListenAddr is the admin API's address; "127.0.0.1:8443" when empty.
	ListenAddr string
	// Logger receives the server's logs; nil discards.
	Logger *slog.Logger
	// Out receives the banner with the admin token and next steps. Required.
	Out io.Writer
	// Executable is the path of the running kith binary; the banner
	// suggests "go run ./cmd/kith" when it is empty or a `go run` build,
	// and "kith" otherwise.
	Executable string
	// Ready, if set, is called with the running server once it is serving.
	Ready func(*server.Server)
	// TrafficInterval is the demo traffic generator's pause between
	// calls; 500ms when zero.
	TrafficInterval time.Duration
}

// demoEntries returns the workloads the demo registers.
func demoEntries() []registry.Spec {
	return []registry.Spec{
		{SPIFFEID: "/orders", Selectors: []string{"unix:user:orders"}, Owner: "team-commerce",
			BusinessFunction: "order intake", MaxScopes: []string{"payments.charge", "orders.read"}},
		{SPIFFEID: "/payments", Selectors: []string{"unix:user:payments"}, Owner: "team-payments",
			BusinessFunction: "card payments", MaxScopes: []string{"ledger.write"}},
		{SPIFFEID: "/ledger-db", Selectors: []string{"unix:user:ledgerdb"}, Owner: "team-finance-platform",
			BusinessFunction: "financial records"},
	}
}

// Run starts the demo and blocks until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		return errors.New("dev: Config.Out is required")
	}
	if cfg.TrustDomain == "" {
		cfg.TrustDomain = "example.org"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	temp := cfg.DataDir == ""
	if temp {
		dir, err := os.MkdirTemp("", "kith-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	srv, err := server.New(ctx, server.Config{
		TrustDomain: cfg.TrustDomain,
		ListenAddr:  cfg.ListenAddr,
		DataDir:     cfg.DataDir,
		Logger:      cfg.Logger,
	})
	if err != nil {
		return err
	}
	seeded, err := seed(ctx, srv)
	if err != nil {
		return err
	}
	lns, err := listenDemo()
	if err != nil {
		return err
	}
	admin, err := adminClient(cfg, srv)
	if err != nil {
		lns.close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(ctx) }()
	if err := printBanner(cfg, srv, seeded, temp, lns); err != nil {
		cancel()
		lns.close()
		<-srvDone
		return err
	}
	registered := make(chan struct{})
	agentDir := filepath.Join(cfg.DataDir, "agent")
	interval := cfg.TrafficInterval
	if interval == 0 {
		interval = 500 * time.Millisecond
	}
	tasks := []func(context.Context) error{
		func(context.Context) error { return <-srvDone },
		func(ctx context.Context) error { return runAgent(ctx, cfg, srv, registered) },
		func(ctx context.Context) error {
			return runDemo(ctx, demoConfig{srv: srv, lns: lns, admin: admin, registered: registered, logger: cfg.Logger,
				socket: agent.DevSocketPath(agentDir), view: filepath.Join(agentDir, "private", "dataplane.sock"), interval: interval})
		},
	}
	if cfg.Ready != nil {
		cfg.Ready(srv)
	}
	// Whichever stops first stops the others; the first error wins.
	errc := make(chan error, len(tasks))
	for _, task := range tasks {
		go func() { errc <- task(ctx) }()
	}
	for range tasks {
		if e := <-errc; err == nil && e != nil {
			err = e
		}
		cancel()
	}
	return err
}

// adminClient returns a client of srv's admin API, with the admin token
// New created or, on a reused data folder, the one it wrote then.
func adminClient(cfg Config, srv *server.Server) (*adminclient.Client, error) {
	var token string
	if t := srv.NewAdminToken(); t != nil {
		token = t.Reveal()
	} else {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "admin.token"))
		if err != nil {
			return nil, fmt.Errorf("dev: admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return adminclient.New(adminclient.Config{Addr: srv.Addr(), Token: adminclient.NewToken(token),
		Roots: srv.CA().X509Authorities(), TrustDomain: srv.TrustDomain().Name()})
}

// runAgent runs a node agent next to the dev server, joined with a fresh
// join token, and registers an entry for the current user on it, so that
// any SPIFFE-aware program the user runs gets an identity, and binds the
// demo entries to the current user under it (closing registered then).
func runAgent(ctx context.Context, cfg Config, srv *server.Server, registered chan<- struct{}) error {
	actor := audit.Actor{Kind: "system", ID: "kith-dev"}
	tok, err := srv.Nodes().CreateJoinToken(ctx, actor, 0)
	if err != nil {
		return fmt.Errorf("dev agent join token: %w", err)
	}
	td := srv.TrustDomain().Name()
	return agent.RunDev(ctx, agent.DevConfig{
		ServerURL:   "https://" + srv.Addr(),
		TrustBundle: srv.CA().X509Authorities(),
		JoinToken:   agent.NewJoinToken(tok.Reveal()),
		DataDir:     filepath.Join(cfg.DataDir, "agent"),
		Out:         cfg.Out,
		Logger:      cfg.Logger,
		Register: func(ctx context.Context, agentID spiffeid.ID, sels []string) error {
			_, err := srv.Registry().Create(ctx, actor, registry.Spec{
				SPIFFEID: "spiffe://" + td + "/dev-user", ParentID: agentID.String(), Selectors: sels,
				Owner: "you", BusinessFunction: "kith dev: programs run by the current user",
			})
			if err != nil && !errors.Is(err, registry.ErrConflict) { // a conflict: kept from an earlier run
				return err
			}
			if err := bindDemoEntries(ctx, srv, actor, agentID, sels); err != nil {
				return err
			}
			close(registered)
			return nil
		},
	})
}

// bindDemoEntries gives the demo entries to the current user's processes
// under the dev agent (the demo services run in this process), creating
// those that are missing.
func bindDemoEntries(ctx context.Context, srv *server.Server, actor audit.Actor, agentID spiffeid.ID, sels []string) error {
	reg := srv.Registry()
	for _, spec := range demoEntries() {
		spec.SPIFFEID = "spiffe://" + srv.TrustDomain().Name() + spec.SPIFFEID
		spec.ParentID, spec.Selectors = agentID.String(), sels
		found, err := reg.FindBySPIFFEID(ctx, spiffeid.RequireFromString(spec.SPIFFEID))
		if err != nil {
			return fmt.Errorf("demo entry %s: %w", spec.SPIFFEID, err)
		}
		if len(found) == 0 {
			_, err = reg.Create(ctx, actor, spec)
		} else if e := found[0]; e.ParentID != agentID || !slices.Equal(selectorStrings(e.Selectors), sels) {
			spec.Revision = e.Revision
			spec.Status = string(e.Status)
			_, err = reg.Update(ctx, actor, e.ID, spec)
		}
		if err != nil {
			return fmt.Errorf("demo entry %s: %w", spec.SPIFFEID, err)
		}
	}
	return nil
}

// selectorStrings returns sels as "type:value" strings.
func selectorStrings(sels []registry.Selector) []string {
	out := make([]string, len(sels))
	for i, s := range sels {
		out[i] = s.String()
	}
	return out
}

// seed registers the demo entries on a fresh store and reports how many it
// added.
func seed(ctx context.Context, srv *server.Server) (int, error) {
	reg := srv.Registry()
	existing, _, err := reg.List(ctx, registry.Filter{Limit: 1})
	if err != nil || len(existing) > 0 {
		return 0, err
	}
	actor := audit.Actor{Kind: "system", ID: "kith-dev"}
	for _, spec := range demoEntries() {
		spec.SPIFFEID = "spiffe://" + srv.TrustDomain().Name() + spec.SPIFFEID
		if _, err := reg.Create(ctx, actor, spec); err != nil {
			return 0, fmt.Errorf("seed %s: %w", spec.SPIFFEID, err)
		}
	}
	return len(demoEntries()), nil
}

const banner = `
Kith dev is running (trust domain {{.TD}}); Ctrl-C stops it.

  admin API      {{.URL}}/v1   (server SPIFFE ID {{.ServerID}})
  OAuth issuer   {{.URL}}   (metadata: {{.URL}}/.well-known/oauth-authorization-server)
  trust bundle   {{.URL}}/bundle   (PEM: {{.Data}}/bundle.pem)
  health         {{.URL}}/healthz   metrics: {{.URL}}/metrics
  data folder    {{.Data}}{{if .Temp}}   (temporary: removed on exit){{end}}
  admin token    {{.Token}}
{{if .Seeded}}  entries        {{.Entries}} workloads registered: orders, payments, ledger-db, and dev-user
                 for the programs you run
{{end}}
Demo services (orders → payments → ledger-db), each behind an inbound proxy
that accepts only the callers the demo-* policies allow; a traffic generator
calls orders as spiffe://{{.TD}}/dev-user a few times a second:
{{range .Services}}
  {{printf "%-14s" .Name}} https://{{.Proxy}}   (service http://{{.Upstream}})
{{- end}}
  proxy metrics  http://{{.Metrics}}/metrics

In another terminal, point the CLI at it and try:

  export KITH_DATA={{.Data}}
  {{.Kith}} entry list
  {{.Kith}} bundle show
  {{.Kith}} svid mint --spiffe-id spiffe://{{.TD}}/orders --cert $KITH_DATA/orders.pem --key $KITH_DATA/orders-key.pem
  {{.Kith}} policy list
  {{.Kith}} audit tail --follow         (--calls adds the demo's calls)
  curl --cacert $KITH_DATA/bundle.pem {{.URL}}/healthz

`

func printBanner(cfg Config, srv *server.Server, seeded int, temp bool, lns *demoListeners) error {
	token := "(kept from an earlier run: see " + filepath.Join(cfg.DataDir, "admin.token") + ")"
	if t := srv.NewAdminToken(); t != nil {
		token = t.Reveal()
	}
	kith := "kith"
	if cfg.Executable == "" || isTemporaryBuild(cfg.Executable) {
		kith = "go run ./cmd/kith"
	}
	type service struct{ Name, Proxy, Upstream string }
	var services []service
	for i, name := range demoServices() {
		services = append(services, service{name, lns.inbound[i].Addr().String(), lns.upstream[i].Addr().String()})
	}
	t := template.Must(template.New("banner").Parse(banner))
	return t.Execute(cfg.Out, map[string]any{
		"TD": srv.TrustDomain().Name(), "URL": srv.URL(), "ServerID": srv.ID().String(),
		"Data": cfg.DataDir, "Temp": temp, "Token": token, "Seeded": seeded, "Entries": seeded + 1, "Kith": kith,
		"Services": services, "Metrics": lns.metrics.Addr().String(),
	})
}

// isTemporaryBuild reports whether path is a binary `go run` built in a
// temporary folder.
func isTemporaryBuild(path string) bool {
	rel, err := filepath.Rel(os.TempDir(), path)
	return err == nil && !filepath.IsAbs(rel) && len(rel) > 2 && rel[:2] != ".."
}
