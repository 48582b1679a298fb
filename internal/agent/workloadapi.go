package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agentproto"
)

// securityHeader is the metadata every Workload API call must carry, with
// the value "true" (SPIFFE Workload Endpoint specification).
const securityHeader = "workload.spiffe.io"

// gracefulStop bounds how long shutdown waits for calls to finish.
const gracefulStop = 5 * time.Second

// mintRetry is how soon a stream retries after it could not obtain an
// SVID it needs.
const mintRetry = 5 * time.Second

// workloadAPI is the gRPC server on the socket.
type workloadAPI struct {
	a    *Agent
	lis  net.Listener
	grpc *grpc.Server
	stop chan struct{} // closed at shutdown: ends the streams
}

// listenWorkloadAPI binds the socket: mode 0777 in a directory of mode
// 0755 (created if missing), replacing a stale socket file but nothing
// else.
func (a *Agent) listenWorkloadAPI() (*workloadAPI, error) {
	path := a.cfg.SocketPath
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("agent: socket folder: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			return nil, fmt.Errorf("agent: socket folder: %w", err)
		}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("agent: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("agent: remove stale socket: %w", err)
		}
	}
	lis, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent: workload API: %w", err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		lis.Close()
		return nil, fmt.Errorf("agent: socket mode: %w", err)
	}
	w := &workloadAPI{a: a, lis: lis, stop: make(chan struct{})}
	var warnOnce sync.Once
	creds := peerCredentials{proc: a.attestor.proc, noPeerSocket: func(err error) {
		warnOnce.Do(func() {
			a.logger.Warn("workload API: the kernel does not name the peer of a connection (is unix_diag available?); "+
				"unix:path and unix:sha256 selectors cannot be used", "error", err)
		})
	}}
	w.grpc = grpc.NewServer(
		grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(w.unaryInterceptor),
		grpc.ChainStreamInterceptor(w.streamInterceptor),
	)
	workload.RegisterSpiffeWorkloadAPIServer(w.grpc, &workloadServer{a: a, stop: w.stop})
	return w, nil
}

// run serves until ctx is done, then stops gracefully (streams end with
// Unavailable) and removes the socket.
func (w *workloadAPI) run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- w.grpc.Serve(w.lis) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		close(w.stop)
		done := make(chan struct{})
		go func() { w.grpc.GracefulStop(); close(done) }()
		if !sleep(done, gracefulStop) {
			<-done
		} else {
			w.grpc.Stop()
			<-done
		}
		err = <-errc
	}
	os.Remove(w.a.cfg.SocketPath)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// close releases the socket of a server that never ran.
func (w *workloadAPI) close() {
	w.lis.Close()
	os.Remove(w.a.cfg.SocketPath)
}

// checkHeader enforces the security header.
func checkHeader(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(securityHeader) {
		if v == "true" {
			return nil
		}
	}
	return status.Error(codes.InvalidArgument, "security header missing from request")
}

// methodName returns the last element of a full gRPC method name.
func methodName(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

func (w *workloadAPI) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkHeader(ctx); err != nil {
		w.a.metrics.request(methodName(info.FullMethod), err)
		return nil, err
	}
	resp, err := h(ctx, req)
	w.a.metrics.request(methodName(info.FullMethod), err)
	return resp, err
}

func (w *workloadAPI) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := checkHeader(ss.Context()); err != nil {
		w.a.metrics.request(methodName(info.FullMethod), err)
		return err
	}
	err := h(srv, ss)
	w.a.metrics.request(methodName(info.FullMethod), err)
	return err
}

// workloadServer implements the SPIFFE Workload API.
type workloadServer struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	a    *Agent
	stop <-chan struct{}
}

// errNoIdentity is the Workload API's answer to a process no entry
// matches.
var errNoIdentity = status.Error(codes.PermissionDenied, "no identity issued")

// matching attests the caller and returns the entries it has. It fails
// with PermissionDenied when the caller cannot be attested (see
// workloadAttestor.attest) or no entry matches it.
//
// Every call and every update of a stream attests the caller again, so
// that a connection whose process executed another program, exited, or
// handed the connection over stops receiving identities.
func (s *workloadServer) matching(ctx context.Context) ([]agentproto.Entry, error) {
	p, ok := peerOf(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no peer credentials")
	}
	att, err := s.a.attestor.describe(p)
	if err != nil {
		s.a.logger.Warn("workload attestation refused", "pid", p.pid, "uid", p.uid, "error", err)
		return nil, status.Error(codes.PermissionDenied, "could not attest the calling process")
	}
	entries := s.a.state.matching(att.selectors)
	if len(entries) == 0 {
		if att.withheld != "" {
			s.a.logger.Warn("workload API: no identity for the caller; its path and sha256 selectors were left out",
				"pid", p.pid, "uid", p.uid, "reason", att.withheld)
		}
		return nil, errNoIdentity
	}
	return entries, nil
}

// wait blocks until the state changes, retry passes (if positive), the
// call ends or the agent stops; it returns the error that ends the stream,
// or nil to go on.
func (s *workloadServer) wait(ctx context.Context, changed <-chan struct{}, retry time.Duration) error {
	var timer <-chan time.Time
	if retry > 0 {
		t := time.NewTimer(retry)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-s.stop:
		return status.Error(codes.Unavailable, "agent shutting down")
	case <-changed:
	case <-timer:
	}
	return nil
}

// FetchX509SVID streams the caller's X509-SVIDs with the own bundle and the
// federated bundles, again whenever any of them changes. It fails with
// PermissionDenied when no entry matches the caller (at the start or
// later) and with Unavailable if no SVID can be obtained.
func (s *workloadServer) FetchX509SVID(_ *workload.X509SVIDRequest, stream workload.SpiffeWorkloadAPI_FetchX509SVIDServer) error {
	ctx := stream.Context()
	var watched []string
	release := func() {}
	defer func() { release() }()
	var last string
	for {
		changed := s.a.state.changes.wait()
		entries, err := s.matching(ctx)
		if err != nil {
			return err
		}
		if ids := entryIDs(entries); !equalStrings(ids, watched) {
			newRelease := s.a.svids.watch(ids)
			release()
			release, watched = newRelease, ids
		}
		recs, err := s.a.svids.get(ctx, entries)
		if len(recs) == 0 {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return status.Errorf(codes.Unavailable, "X509-SVID not available: %v", err)
		}
		resp, fp := s.x509Response(recs)
		if fp != last {
			if err := stream.Send(resp); err != nil {
				return err
			}
			last = fp
		}
		retry := time.Duration(0)
		if err != nil {
			s.a.logger.Warn("workload API: some X509-SVIDs unavailable", "error", err)
			retry = mintRetry
		}
		if err := s.wait(ctx, changed, retry); err != nil {
			return err
		}
	}
}

// FetchX509Bundles streams the X.509 bundles (own and federated) to a
// caller that has an identity, again whenever they change.
func (s *workloadServer) FetchX509Bundles(_ *workload.X509BundlesRequest, stream workload.SpiffeWorkloadAPI_FetchX509BundlesServer) error {
	return s.streamBundles(stream.Context(), func(own *spiffebundle.Bundle, fed map[spiffeid.TrustDomain]*spiffebundle.Bundle) (map[string][]byte, error) {
		return x509BundleMap(own, fed), nil
	}, func(m map[string][]byte) error {
		return stream.Send(&workload.X509BundlesResponse{Bundles: m})
	})
}

// streamBundles is the loop of FetchX509Bundles and FetchJWTBundles: it
// attests the caller, then sends the bundle map that encode makes from the
// own and federated bundles, first at once and again whenever it changes,
// for as long as the caller has an identity.
func (s *workloadServer) streamBundles(ctx context.Context,
	encode func(own *spiffebundle.Bundle, fed map[spiffeid.TrustDomain]*spiffebundle.Bundle) (map[string][]byte, error),
	send func(map[string][]byte) error) error {
	var last string
	for {
		changed := s.a.state.changes.wait()
		if _, err := s.matching(ctx); err != nil {
			return err
		}
		own, fed := s.a.state.bundles()
		if own == nil {
			return status.Error(codes.Unavailable, "no trust bundle yet")
		}
		m, err := encode(own, fed)
		if err != nil {
			return err
		}
		if fp := bundleMapFingerprint(m); fp != last {
			if err := send(m); err != nil {
				return err
			}
			last = fp
		}
		if err := s.wait(ctx, changed, 0); err != nil {
			return err
		}
	}
}
