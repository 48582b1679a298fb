package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/agent"
	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/server"
)

// clock is a settable clock shared by the server and the agent. It starts
// 23 hours before the real time and everything lives 24 hours, so that
// what is signed at the fake time also satisfies verifiers that read the
// real clock (TLS, go-spiffe) while the test moves the clock by hours.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Add(-23 * time.Hour).Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a real server running in-process, with an admin client.
type env struct {
	t       *testing.T
	clock   *clock
	dataDir string
	addr    string
	srv     *server.Server
	admin   *adminclient.Client
	stopSrv func()
}

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t *testing.T) *env {
	checkLeaks(t)
	e := &env{t: t, clock: newClock(), dataDir: t.TempDir(), addr: "127.0.0.1:0"}
	e.startServer()
	tok := e.srv.NewAdminToken()
	if tok == nil {
		t.Fatal("no admin token on first start")
	}
	admin, err := adminclient.New(adminclient.Config{Addr: e.addr, Token: adminclient.NewToken(tok.Reveal()),
		Roots: e.srv.CA().X509Authorities(), TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	e.admin = admin
	t.Cleanup(func() { e.stopSrv() })
	return e
}

// startServer starts the server on e.addr (a free port the first time).
func (e *env) startServer() {
	e.t.Helper()
	var srv *server.Server
	var err error
	// A restarted server's port may linger.
	await.Poll(5*time.Second, func() bool {
		srv, err = server.New(context.Background(), server.Config{
			TrustDomain: "example.org", ListenAddr: e.addr, DataDir: e.dataDir, Clock: e.clock.Now, Logger: logger(e.t),
			CATTL: 24 * time.Hour, X509SVIDTTL: 24 * time.Hour, JWTSVIDTTL: 24 * time.Hour,
		})
		return err == nil || !errors.Is(err, syscall.EADDRINUSE)
	})
	if err != nil {
		e.t.Fatalf("server.New: %v", err)
	}
	e.srv, e.addr = srv, srv.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	e.stopSrv = func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("server Run: %v", err)
		}
		e.stopSrv = func() {}
	}
}

// startAgent attests a new agent with a fresh join token and runs it.
func (e *env) startAgent(token string) (*agent.Agent, string, chan error, context.CancelFunc) {
	e.t.Helper()
	if token == "" {
		jt, err := e.admin.CreateJoinToken(e.t.Context(), time.Hour)
		if err != nil {
			e.t.Fatal(err)
		}
		token = jt.Token
	}
	dir, err := os.MkdirTemp("", "kith")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "public", "api.sock")
	a, err := agent.New(agent.Config{ServerURL: "https://" + e.addr, JoinToken: agent.NewJoinToken(token), SocketPath: sock,
		DataDir: filepath.Join(dir, "data"), TrustBundle: e.srv.CA().X509Authorities(), Clock: e.clock.Now, Logger: logger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			e.t.Error("agent did not stop")
		}
	})
	return a, "unix://" + sock, done, cancel
}

// waitReady waits for the agent's identity or its failure.
func waitReady(t *testing.T, a *agent.Agent, done chan error) {
	t.Helper()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("agent not ready")
	}
}

// waitEntries waits until a holds at least n entries, so that a workload
// they match gets an identity at once.
func waitEntries(t *testing.T, a *agent.Agent, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d entries at the agent", n), a.ChangedForTest, func() bool { return a.Status().Entries >= n })
}

func (e *env) createEntry(path string) *api.Entry {
	e.t.Helper()
	ent, err := e.admin.CreateEntry(e.t.Context(), api.Entry{SPIFFEID: "spiffe://example.org" + path, AnyAgent: true,
		Selectors: []string{"unix:uid:" + strconv.Itoa(os.Getuid())}})
	if err != nil {
		e.t.Fatal(err)
	}
	return ent
}

// waitFor waits until cond holds, checking it again each time the channel
// that changed returns is ready: the change signal of what cond reads
// (Agent.ChangedForTest, X509Source.Updated, View.Changed). It fails t
// after 30s.
func waitFor(t *testing.T, what string, changed func() <-chan struct{}, cond func() bool) {
	t.Helper()
	await.Until(t, what, 30*time.Second, changed, cond)
}

// TestEndToEnd runs the real server and agent in-process: a workload of
// this process's uid gets X509 and JWT SVIDs through go-spiffe, validates
// the JWT, follows a CA rotation without reconnecting, and loses its
// identity in a go-spiffe TLS verifier using internal/authn as soon as an
// admin revokes its entry, long before the SVID expires.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	a, addr, done, _ := e.startAgent("")
	waitReady(t, a, done)
	ent := e.createEntry("/web")
	waitEntries(t, a, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	opt := workloadapi.WithClientOptions(workloadapi.WithAddr(addr))

	src, err := workloadapi.NewX509Source(ctx, opt)
	if err != nil {
		t.Fatalf("NewX509Source: %v", err)
	}
	defer src.Close()
	first, _ := src.GetX509SVID()
	if first.ID.String() != ent.SPIFFEID {
		t.Fatalf("X509-SVID for %s, want %s", first.ID, ent.SPIFFEID)
	}
	jwts, err := workloadapi.NewJWTSource(ctx, opt)
	if err != nil {
		t.Fatalf("NewJWTSource: %v", err)
	}
	defer jwts.Close()
	tok, err := jwts.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "payments"})
	if err != nil {
		t.Fatalf("FetchJWTSVID: %v", err)
	}
	if v, err := workloadapi.ValidateJWTSVID(ctx, tok.Marshal(), "payments", workloadapi.WithAddr(addr)); err != nil || v.ID != first.ID {
		t.Fatalf("ValidateJWTSVID = %v, %v", v, err)
	}
	if _, err := jwtsvid.ParseAndValidate(tok.Marshal(), jwts, []string{"payments"}); err != nil {
		t.Errorf("go-spiffe refuses the JWT-SVID with the agent's JWT bundles: %v", err)
	}

	t.Run("CA rotation", func(t *testing.T) {
		td := spiffeid.RequireTrustDomainFromString("example.org")
		roots := func() int {
			b, err := src.GetX509BundleForTrustDomain(td)
			if err != nil {
				t.Fatal(err)
			}
			return len(b.X509Authorities())
		}
		e.clock.Add(14 * time.Hour) // past half of the CA key's life: a key is prepared
		if err := e.srv.CA().Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the prepared key's root", src.Updated, func() bool { return roots() == 2 })
		var next *x509.Certificate
		for _, c := range e.srv.CA().X509Authorities() {
			if first.Certificates[0].CheckSignatureFrom(c) != nil {
				next = c
			}
		}
		// Activation comes at 20h; an SVID renewed just before it by the old
		// key is renewed again at half its remaining life, by 22h. After
		// each step, a whole pass of the agent's rotation task has seen the
		// clock: the SVID it holds then is what the workload must receive.
		for i, step := range []time.Duration{6 * time.Hour, time.Hour, time.Hour, time.Hour} {
			if i > 0 {
				cur, _ := src.GetX509SVID()
				t.Logf("no SVID signed by the new key yet (SVID %v..%v, clock %v); moving the clock on", cur.Certificates[0].NotBefore, cur.Certificates[0].NotAfter, e.clock.Now())
			}
			e.clock.Add(step)
			if err := e.srv.CA().Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			a.AwaitRotationPassForTest(t)
			if held := a.HeldSVIDForTest(ent.ID); held != nil && held.Certificates[0].CheckSignatureFrom(next) == nil {
				waitFor(t, "the new key's SVID at the workload", src.Updated, func() bool {
					cur, _ := src.GetX509SVID()
					return cur.Certificates[0].CheckSignatureFrom(next) == nil
				})
				return
			}
		}
		t.Fatal("no SVID signed by the new key")
	})

	t.Run("revocation", func(t *testing.T) {
		held, _ := src.GetX509SVID()
		svid := *held
		verifier := mintVerifier(t, e)
		if err := handshake(verifier, &svid, src, a); err != nil {
			t.Fatalf("handshake before revocation: %v", err)
		}
		start := time.Now()
		if _, err := e.admin.RevokeEntry(ctx, ent.ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the verifier to refuse", a.ChangedForTest, func() bool {
			return errors.Is(handshake(verifier, &svid, src, a), authn.ErrRevoked)
		})
		t.Logf("revoke → enforced at the verifier in %v", time.Since(start))
		if !time.Now().Before(svid.Certificates[0].NotAfter) || !e.clock.Now().Before(svid.Certificates[0].NotAfter) {
			t.Fatal("the SVID expired; the test proves nothing")
		}
		if _, err := workloadapi.ValidateJWTSVID(ctx, tok.Marshal(), "payments", workloadapi.WithAddr(addr)); err == nil {
			t.Error("the agent still validates a JWT-SVID of the revoked identity")
		}
	})
}

// mintVerifier mints an SVID for a verifying service through the admin API.
func mintVerifier(t *testing.T, e *env) *x509svid.SVID {
	t.Helper()
	key, csr := newKeyCSR(t)
	out, err := e.admin.MintX509SVID(t.Context(), api.X509SVIDMint{SPIFFEID: "spiffe://example.org/verifier", CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for _, der := range out.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return &x509svid.SVID{ID: spiffeid.RequireFromString(out.SPIFFEID), Certificates: certs, PrivateKey: key}
}

// handshake has a go-spiffe client holding client connect to a go-spiffe
// server holding server whose authorizer checks revocations with rev
// through internal/authn; it returns the server's verdict.
func handshake(server, client x509svid.Source, bundle x509bundle.Source, rev authn.RevocationChecker) error {
	sc := tlsconfig.MTLSServerConfig(server, bundle, authn.Authorizer(rev, tlsconfig.AuthorizeAny()))
	cc := tlsconfig.MTLSClientConfig(client, bundle, tlsconfig.AuthorizeAny())
	c1, c2 := net.Pipe()
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(c1, cc)
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		c1.Close()
		errc <- err
	}()
	s := tls.Server(c2, sc)
	err := s.Handshake()
	if err == nil {
		s.Write([]byte{1})
	}
	c2.Close()
	<-errc
	return err
}

func newKeyCSR(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// checkLeaks fails t if goroutines started during the test outlive it.
// Call it first, so that its cleanup runs after every other.
func checkLeaks(t *testing.T) {
	t.Helper()
	await.NoLeaks(t)
}
