package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DevConfig configures [RunDev].
type DevConfig struct {
	// ServerURL, TrustBundle and JoinToken are as in [Config]. Required.
	ServerURL   string
	TrustBundle []*x509.Certificate
	JoinToken   JoinToken
	// DataDir is the agent's data folder; the socket is
	// DataDir/public/api.sock. Required.
	DataDir string
	// Register, if set, is called once the agent is attested with its
	// SPIFFE ID and the selectors of the current user (unix:uid:N), to
	// register an entry with the agent as parent. An error stops RunDev.
	Register func(ctx context.Context, agentID spiffeid.ID, selectors []string) error
	// Out receives the line to export SPIFFE_ENDPOINT_SOCKET. Required.
	Out io.Writer
	// HealthAddr and Logger are as in [Config].
	HealthAddr string
	Logger     *slog.Logger
}

// DevSocketPath returns the Workload API socket of a dev agent whose data
// folder is dataDir.
func DevSocketPath(dataDir string) string { return filepath.Join(dataDir, "public", "api.sock") }

// RunDev runs an agent for `kith dev` next to an in-process server until
// ctx is done: it attests with cfg.JoinToken, lets cfg.Register add an
// entry for the current user, and once the entry has reached the agent
// prints SPIFFE_ENDPOINT_SOCKET=unix://<socket> on cfg.Out, so that any
// go-spiffe program the user runs gets an identity.
//
// It returns nil when ctx is done, or the error of [New], [Agent.Run] or
// Register.
func RunDev(ctx context.Context, cfg DevConfig) error {
	if cfg.Out == nil {
		return errors.New("agent: DevConfig.Out is required")
	}
	socket := DevSocketPath(cfg.DataDir)
	a, err := New(Config{ServerURL: cfg.ServerURL, JoinToken: cfg.JoinToken, SocketPath: socket,
		DataDir: cfg.DataDir, TrustBundle: cfg.TrustBundle, HealthAddr: cfg.HealthAddr, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-a.Ready():
	}
	if cfg.Register != nil {
		sel := "unix:uid:" + strconv.Itoa(os.Getuid())
		if err := cfg.Register(ctx, a.SPIFFEID(), []string{sel}); err != nil {
			cancel()
			<-done
			return fmt.Errorf("agent: register the dev entry: %w", err)
		}
		// The line below promises an identity to a workload started at
		// once: print it when the entry has reached the agent.
		for {
			changed := a.state.changes.wait()
			if len(a.state.matching(map[string]bool{sel: true})) > 0 {
				break
			}
			select {
			case <-changed:
			case err := <-done:
				return err
			}
		}
	}
	fmt.Fprintf(cfg.Out, "  workload API   SPIFFE_ENDPOINT_SOCKET=unix://%s   (agent %s)\n", socket, a.SPIFFEID())
	return <-done
}
