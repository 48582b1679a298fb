package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
)

// Kith's pair runs in a child process (this program with -kith-child) so
// that its CPU is measured from /proc like nginx's, apart from the load
// generator and the upstream. internal/ packages are importable here:
// Go's internal rule goes by import path, and this module's path is
// under github.com/kith-dev/kith.

var (
	kithTarget = spiffeid.RequireFromPath(proxytest.Own, "/payments")
	kithCaller = spiffeid.RequireFromPath(proxytest.Own, "/orders")
)

// kithPair is the child process running Kith's outbound+inbound pair.
type kithPair struct {
	url   string // of the outbound proxy
	cmd   *exec.Cmd
	stdin io.Closer
}

// startKithPair starts this program as a child serving Kith's pair in
// front of upstream, logging its access log to logFile.
func startKithPair(upstream, logFile string) (*kithPair, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-kith-child", "-upstream", upstream, "-kith-log", logFile)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &kithPair{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		p.stop()
		return nil, fmt.Errorf("kith child: %q: %v", line, err)
	}
	p.url = "http://" + addr
	return p, nil
}

func (p *kithPair) pids() []int { return []int{p.cmd.Process.Pid} }

// stop closes the child's stdin, which makes it exit, and waits.
func (p *kithPair) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// kithChild serves the pair until stdin closes. proxytest's fixtures
// (real CAs, SVIDs, signed tokens) want a testing.TB; testing.Benchmark
// provides one outside of go test.
func kithChild(upstream, logFile string) error {
	var err error
	served := false
	testing.Benchmark(func(b *testing.B) {
		if served { // testing.Benchmark may call again; once is enough
			return
		}
		served = true
		err = serveKith(b, upstream, logFile)
		if err == nil {
			os.Exit(0)
		}
	})
	if err == nil {
		err = errors.New("kith child: fixture setup failed")
	}
	return err
}

// staticToken attaches one access token to every call, as the agent's
// token cache does once warm.
type staticToken string

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (t staticToken) Transport(base http.RoundTripper) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+string(t))
		return base.RoundTrip(r)
	})
}

func serveKith(b *testing.B, upstream, logFile string) error {
	up, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	env := proxytest.New(b, policy.Document{Name: "payments", Target: kithTarget.String(), Rules: []policy.Rule{
		{Name: "api", From: policy.From{SPIFFEIDs: []string{kithCaller.String()}}, To: policy.To{Paths: []string{"/api/*"}}, Action: policy.ActionAllow},
		{Name: "deny", To: policy.To{Paths: []string{"/deny"}}, Action: policy.ActionDeny},
	}})
	enf, err := enforce.New(enforce.Config{Target: kithTarget, Bundles: env.Bundles, Revocations: env.Revocations,
		Policy: env.Engine, Issuer: proxytest.Issuer, Keys: env.Keys()})
	if err != nil {
		return err
	}
	// The access log goes to a file at Info, as `kith proxy` logs it by
	// default (and as nginx writes its access.log).
	lf, err := os.Create(logFile)
	if err != nil {
		return err
	}
	defer lf.Close()
	tel, err := proxy.NewTelemetry(proxy.TelemetryConfig{Logger: slog.New(slog.NewJSONHandler(lf, nil))})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tel.Run(ctx)
	inLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: inLn, Upstream: up, Enforcer: enf, SVID: env.SVID(kithTarget), Telemetry: tel})
	if err != nil {
		return err
	}
	go in.Run(ctx)
	outLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	token := env.Token(proxytest.Claims{Subject: kithCaller.String(), ClientID: "ci_orders", Scope: "read",
		Expiry: time.Now().Add(24 * time.Hour)}, kithTarget.String(), proxytest.SignGood)
	out, err := proxy.NewOutbound(proxy.OutboundConfig{Listener: outLn, Destination: in.Addr().String(), DestinationID: kithTarget,
		SVID: env.SVID(kithCaller), Bundles: env.Bundles, Revocations: env.Revocations, Telemetry: tel, Tokens: staticToken(token)})
	if err != nil {
		return err
	}
	go out.Run(ctx)
	fmt.Printf("listening %s\n", out.Addr())
	io.Copy(io.Discard, os.Stdin) // until the parent closes it or dies
	return nil
}
