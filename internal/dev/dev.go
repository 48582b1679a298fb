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
	"text/template"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/ledger"
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Run(ctx) }()
	if err := printBanner(cfg, srv, seeded, temp); err != nil {
		cancel()
		<-srvDone
		return err
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- runAgent(ctx, cfg, srv) }()
	if cfg.Ready != nil {
		cfg.Ready(srv)
	}
	// Whichever stops first stops the other.
	select {
	case err = <-srvDone:
		cancel()
		if aerr := <-agentDone; err == nil {
			err = aerr
		}
	case err = <-agentDone:
		cancel()
		if serr := <-srvDone; err == nil {
			err = serr
		}
	}
	return err
}

// runAgent runs a node agent next to the dev server, joined with a fresh
// join token, and registers an entry for the current user on it, so that
// any SPIFFE-aware program the user runs gets an identity.
func runAgent(ctx context.Context, cfg Config, srv *server.Server) error {
	actor := ledger.Actor{Kind: "system", ID: "kith-dev"}
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
			if errors.Is(err, registry.ErrConflict) {
				return nil // kept from an earlier run with the same --data
			}
			return err
		},
	})
}

// seed registers the demo entries on a fresh store and reports how many it
// added.
func seed(ctx context.Context, srv *server.Server) (int, error) {
	reg := srv.Registry()
	existing, _, err := reg.List(ctx, registry.Filter{Limit: 1})
	if err != nil || len(existing) > 0 {
		return 0, err
	}
	actor := ledger.Actor{Kind: "system", ID: "kith-dev"}
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

  admin API      https://{{.Addr}}/v1   (server SPIFFE ID {{.ServerID}})
  trust bundle   https://{{.Addr}}/bundle
  health         https://{{.Addr}}/healthz   metrics: https://{{.Addr}}/metrics
  data folder    {{.Data}}{{if .Temp}}   (temporary: removed on exit){{end}}
  admin token    {{.Token}}
{{if .Seeded}}  demo entries   {{.Seeded}} workloads registered (orders, payments, ledger-db)
{{end}}
In another terminal, point the CLI at it and try:

  export KITH_DATA={{.Data}}
  {{.Kith}} entry list
  {{.Kith}} bundle show
  {{.Kith}} svid mint --spiffe-id spiffe://{{.TD}}/orders --cert orders.pem --key orders-key.pem
  {{.Kith}} audit tail

`

func printBanner(cfg Config, srv *server.Server, seeded int, temp bool) error {
	token := "(kept from an earlier run: see " + filepath.Join(cfg.DataDir, "admin.token") + ")"
	if t := srv.NewAdminToken(); t != nil {
		token = t.Reveal()
	}
	kith := "kith"
	if cfg.Executable == "" || isTemporaryBuild(cfg.Executable) {
		kith = "go run ./cmd/kith"
	}
	t := template.Must(template.New("banner").Parse(banner))
	return t.Execute(cfg.Out, map[string]any{
		"TD": srv.TrustDomain().Name(), "Addr": srv.Addr(), "ServerID": srv.ID().String(),
		"Data": cfg.DataDir, "Temp": temp, "Token": token, "Seeded": seeded, "Kith": kith,
	})
}

// isTemporaryBuild reports whether path is a binary `go run` built in a
// temporary folder.
func isTemporaryBuild(path string) bool {
	rel, err := filepath.Rel(os.TempDir(), path)
	return err == nil && !filepath.IsAbs(rel) && len(rel) > 2 && rel[:2] != ".."
}
