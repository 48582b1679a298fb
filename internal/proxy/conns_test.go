package proxy_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/kith-dev/kith/internal/enforce"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/proxy/proxytest"
	"github.com/kith-dev/kith/internal/revocation"
)

// watchedRevocations is a revocation set with the change signal of the
// data-plane view: Changed is closed after each revoke.
type watchedRevocations struct {
	*revocation.Set
	mu      sync.Mutex
	changed chan struct{}
}

func newWatchedRevocations(env *proxytest.Env) *watchedRevocations {
	return &watchedRevocations{Set: env.Revocations, changed: make(chan struct{})}
}

func (w *watchedRevocations) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// revoke revokes value of kind (issued up to a minute from now) and
// signals the change.
func (w *watchedRevocations) revoke(kind revocation.Kind, value string) {
	w.Apply(revocation.Entry{Kind: kind, Value: value, RevokedAt: time.Now().Add(time.Minute), Revision: w.Revision() + 1})
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// serial returns the hex serial of an SVID's leaf.
func serial(s *x509svid.SVID) string { return s.Certificates[0].SerialNumber.Text(16) }

// inboundWith starts an inbound proxy for target enforcing with revs in
// front of upstream, and returns its address.
func inboundWith(t *testing.T, env *proxytest.Env, revs enforce.Revocations, upstream http.Handler, h2c bool) string {
	t.Helper()
	enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: revs,
		Policy: env.Engine, Issuer: proxytest.Issuer, Keys: env.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(upstream)
	if h2c {
		up.Config.Protocols = new(http.Protocols)
		up.Config.Protocols.SetUnencryptedHTTP2(true)
		up.Config.Protocols.SetHTTP1(true)
	}
	up.Start()
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	in, err := proxy.NewInbound(proxy.InboundConfig{Listener: listen(t), Upstream: u, H2C: h2c, Enforcer: enf, SVID: env.SVID(target)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, in.Run)
	return in.Addr().String()
}

// waitClosed fails t unless the peer closes c within ten seconds.
func waitClosed(t *testing.T, what string, c net.Conn, r io.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still open ten seconds after the revocation (read %d bytes)", what, n)
	}
}

// TestInboundClosesRevokedPeer checks that when the revocation set comes
// to cover the certificate a caller connected with (by serial or by its
// SPIFFE ID), the inbound proxy closes that caller's connections: a
// kept-alive HTTP/1.1 connection, and an HTTP/2 connection with a
// long-lived stream in flight. Another caller's connection stays open.
func TestInboundClosesRevokedPeer(t *testing.T) {
	for _, by := range []revocation.Kind{revocation.KindX509Serial, revocation.KindSPIFFEID} {
		t.Run(by.String(), func(t *testing.T) {
			env := proxytest.New(t, policies()...)
			revs := newWatchedRevocations(env)
			streaming := make(chan struct{}, 1)
			upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/stream" {
					io.WriteString(w, "ok")
					return
				}
				io.WriteString(w, "first\n")
				w.(http.Flusher).Flush()
				streaming <- struct{}{}
				<-r.Context().Done()
			})
			addr := inboundWith(t, env, revs, upstream, false)
			caller, other := env.SVID(orders), env.SVID(spiffeid.RequireFromPath(proxytest.Own, "/other"))
			conf := func(s *x509svid.SVID, protos ...string) *tls.Config {
				c := tlsconfig.MTLSClientConfig(s, env.Bundles, tlsconfig.AuthorizeID(target))
				c.NextProtos = protos
				return c
			}
			// Kept-alive HTTP/1.1 connections of the caller and of another
			// peer, each used once.
			h1 := func(s *x509svid.SVID) (*tls.Conn, *bufio.Reader) {
				c, err := tls.Dial("tcp", addr, conf(s, "http/1.1"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				fmt.Fprintf(c, "GET /api/x HTTP/1.1\r\nHost: payments\r\n\r\n")
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return c, br
			}
			kept, keptR := h1(caller)
			bystander, bystanderR := h1(other)
			// An HTTP/2 stream of the caller in flight.
			tr := &http.Transport{TLSClientConfig: conf(caller), ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+"/api/stream", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("stream over %s, want HTTP/2", resp.Proto)
			}
			<-streaming
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || line != "first\n" {
				t.Fatalf("stream: %q, %v", line, err)
			}

			value := serial(caller)
			if by == revocation.KindSPIFFEID {
				value = orders.String()
			}
			revs.revoke(by, value)

			waitClosed(t, "the kept-alive HTTP/1.1 connection", kept, keptR)
			stream := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, resp.Body); stream <- err }()
			select {
			case err := <-stream:
				if err == nil {
					t.Error("the HTTP/2 stream ended cleanly; want it cut")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the HTTP/2 stream of the revoked caller is still open ten seconds after the revocation")
			}
			// The other peer's connection still serves.
			fmt.Fprintf(bystander, "GET /api/x HTTP/1.1\r\nHost: payments\r\n\r\n")
			r2, err := http.ReadResponse(bystanderR, nil)
			if err != nil {
				t.Fatalf("another peer's connection: %v", err)
			}
			r2.Body.Close()
		})
	}
}

// TestTCPClosesRevokedPeer checks that the TCP proxy cuts a tunnel, both
// ways, when the certificate its peer connected with is revoked.
func TestTCPClosesRevokedPeer(t *testing.T) {
	env := proxytest.New(t, policies()...)
	revs := newWatchedRevocations(env)
	enf, err := enforce.New(enforce.Config{Target: target, Bundles: env.Bundles, Revocations: revs, Policy: env.Engine})
	if err != nil {
		t.Fatal(err)
	}
	up := listen(t)
	t.Cleanup(func() { up.Close() })
	upClosed := make(chan error, 1)
	go func() {
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Echo lines; never close first: the tunnel must be cut by the
		// proxy, not by the upstream.
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				upClosed <- err
				return
			}
			io.WriteString(c, line)
		}
	}()
	p, err := proxy.NewTCP(proxy.TCPConfig{Listener: listen(t), Upstream: up.Addr().String(), Enforcer: enf, SVID: env.SVID(target)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	caller := env.SVID(orders)
	c, err := tls.Dial("tcp", p.Addr().String(), tlsconfig.MTLSClientConfig(caller, env.Bundles, tlsconfig.AuthorizeID(target)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("tunnel: %q, %v", line, err)
	}
	revs.revoke(revocation.KindX509Serial, serial(caller))
	waitClosed(t, "the tunnel", c, br)
	select {
	case <-upClosed:
	case <-time.After(10 * time.Second):
		t.Error("the upstream side of the tunnel is still open")
	}
}
