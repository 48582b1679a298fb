package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agentproto"
)

// TestFetchSVIDs attests an agent against the fake server, registers an
// entry for this process's uid, and fetches both kinds of SVID through
// go-spiffe's client.
func TestFetchSVIDs(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e.ID)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	svid, err := workloadapi.FetchX509SVID(ctx, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchX509SVID: %v", err)
	}
	if got, want := svid.ID.String(), e.SPIFFEID; got != want {
		t.Errorf("X509-SVID ID = %s, want %s", got, want)
	}
	bundles, err := workloadapi.FetchX509Bundles(ctx, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchX509Bundles: %v", err)
	}
	if _, err := bundles.GetX509BundleForTrustDomain(fs.td); err != nil {
		t.Errorf("own bundle missing: %v", err)
	}

	jwt, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "api"}, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchJWTSVID: %v", err)
	}
	if jwt.ID.String() != e.SPIFFEID {
		t.Errorf("JWT-SVID ID = %s, want %s", jwt.ID, e.SPIFFEID)
	}
	again, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "api"}, clientOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	if again.Marshal() != jwt.Marshal() {
		t.Error("second FetchJWTSVID minted again; want the cached token")
	}
	got, err := workloadapi.ValidateJWTSVID(ctx, jwt.Marshal(), "api", clientOptions(r))
	if err != nil {
		t.Fatalf("ValidateJWTSVID: %v", err)
	}
	if got.ID != jwt.ID {
		t.Errorf("validated ID = %s, want %s", got.ID, jwt.ID)
	}
	if _, err := workloadapi.ValidateJWTSVID(ctx, jwt.Marshal(), "other", clientOptions(r)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("ValidateJWTSVID(wrong audience) = %v, want InvalidArgument", err)
	}
	jb, err := workloadapi.FetchJWTBundles(ctx, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchJWTBundles: %v", err)
	}
	if _, err := jb.GetJWTBundleForTrustDomain(fs.td); err != nil {
		t.Errorf("own JWT bundle missing: %v", err)
	}
	if st := r.Status(); st.SVIDs != 1 || !st.Connected || !st.Ready {
		t.Errorf("Status = %+v, want 1 SVID, connected, ready", st)
	}
}

// TestWorkloadAPIRefusals covers the answers a caller gets without an
// identity or without the security header.
func TestWorkloadAPIRefusals(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/other", Selectors: []string{"unix:uid:4000000000"}})
	r.awaitEntry(t, e.ID)

	conn, err := grpc.NewClient(r.addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := workload.NewSpiffeWorkloadAPIClient(conn)
	withHeader := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, securityHeader, "true")
	}
	firstX509 := func(ctx context.Context) error {
		s, err := c.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	firstBundles := func(ctx context.Context) error {
		s, err := c.FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	jwt := func(ctx context.Context) error {
		_, err := c.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"api"}})
		return err
	}
	tests := []struct {
		name string
		call func(context.Context) error
		ctx  func(context.Context) context.Context
		want codes.Code
	}{
		{"x509 without header", firstX509, func(ctx context.Context) context.Context { return ctx }, codes.InvalidArgument},
		{"jwt without header", jwt, func(ctx context.Context) context.Context { return ctx }, codes.InvalidArgument},
		{"x509 without matching entry", firstX509, withHeader, codes.PermissionDenied},
		{"jwt without matching entry", jwt, withHeader, codes.PermissionDenied},
		{"bundles without matching entry", firstBundles, withHeader, codes.PermissionDenied},
		{"jwt without audience", func(ctx context.Context) error {
			_, err := c.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{})
			return err
		}, withHeader, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := tt.call(tt.ctx(ctx))
			if got := status.Code(err); got != tt.want {
				t.Errorf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	if n := fs.mintCount(); n != 0 {
		t.Errorf("the agent asked for %d SVIDs for callers without identity, want 0", n)
	}
}

// TestX509StreamFollowsChanges shows the stream pushing a federated bundle
// and a second identity as they arrive, and PermissionDenied when the last
// entry goes.
func TestX509StreamFollowsChanges(t *testing.T) {
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	r := startAgent(t, newTestConfig(t, fs, clock))
	e1 := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/a", Selectors: []string{ownUIDSelector()}})
	r.awaitEntry(t, e1.ID)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	client, err := workloadapi.New(ctx, clientOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	updates := make(chan *workloadapi.X509Context, 16)
	errs := make(chan error, 16)
	watchDone := make(chan error, 1)
	go func() { watchDone <- client.WatchX509Context(ctx, watcher{updates, errs}) }()
	next := func(what string) *workloadapi.X509Context {
		t.Helper()
		select {
		case u := <-updates:
			return u
		case err := <-errs:
			t.Fatalf("%s: watch error %v", what, err)
		case <-ctx.Done():
			t.Fatalf("%s: no update", what)
		}
		return nil
	}
	ids := func(u *workloadapi.X509Context) []string {
		var out []string
		for _, s := range u.SVIDs {
			out = append(out, s.ID.String())
		}
		return out
	}
	if diff := cmp.Diff([]string{"spiffe://example.org/a"}, ids(next("first"))); diff != "" {
		t.Errorf("first update (-want +got):\n%s", diff)
	}

	partner := newTestCA(t, "partner.org", clock).Bundle()
	fs.setFederated(partner)
	u := next("federated bundle")
	if !u.Bundles.Has(spiffeid.RequireTrustDomainFromString("partner.org")) {
		t.Errorf("update lacks the federated bundle: %v", u.Bundles.Bundles())
	}

	fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/b", Selectors: []string{ownUIDSelector()}})
	if diff := cmp.Diff([]string{"spiffe://example.org/a", "spiffe://example.org/b"}, ids(next("second entry"))); diff != "" {
		t.Errorf("after a second entry (-want +got):\n%s", diff)
	}
	cancel()
	if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Errorf("watch ended with %v", err)
	}
}

// watcher forwards go-spiffe watch callbacks to channels.
type watcher struct {
	updates chan<- *workloadapi.X509Context
	errs    chan<- error
}

// OnX509ContextUpdate forwards c, dropping it if the test does not keep up.
func (w watcher) OnX509ContextUpdate(c *workloadapi.X509Context) {
	select {
	case w.updates <- c:
	default:
	}
}

// OnX509ContextWatchError forwards err, unless it is the end of the test.
func (w watcher) OnX509ContextWatchError(err error) {
	if status.Code(err) == codes.Canceled {
		return
	}
	select {
	case w.errs <- err:
	default:
	}
}
