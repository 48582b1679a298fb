package workload_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"google.golang.org/grpc"

	kithoauth "github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/oauth/oauthtest"
	"github.com/kith-dev/kith/sdk/oauth"
	kithworkload "github.com/kith-dev/kith/sdk/oauth/workload"
)

// fakeAPI is a SPIFFE Workload API serving one workload's SVIDs from the
// test CA.
type fakeAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	env  *oauthtest.Env
	name string
	cert tls.Certificate
}

func (f *fakeAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	key, err := x509.MarshalPKCS8PrivateKey(f.cert.PrivateKey)
	if err != nil {
		return err
	}
	var chain, roots []byte
	for _, c := range f.cert.Certificate {
		chain = append(chain, c...)
	}
	for _, c := range f.env.CA.X509Authorities() {
		roots = append(roots, c.Raw...)
	}
	if err := stream.Send(&workload.X509SVIDResponse{Svids: []*workload.X509SVID{{
		SpiffeId: "spiffe://kith.test/" + f.name, X509Svid: chain, X509SvidKey: key, Bundle: roots,
	}}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakeAPI) FetchJWTSVID(_ context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	tok := f.env.JWTSVID(f.name, req.Audience...)
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: "spiffe://kith.test/" + f.name, Svid: tok}}}, nil
}

func (f *fakeAPI) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream grpc.ServerStreamingServer[workload.JWTBundlesResponse]) error {
	b, err := f.env.CA.Bundle().JWTBundle().Marshal()
	if err != nil {
		return err
	}
	if err := stream.Send(&workload.JWTBundlesResponse{Bundles: map[string][]byte{"spiffe://kith.test": b}}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

// serve starts the fake Workload API on a unix socket and returns its
// address.
func serve(t *testing.T, api *fakeAPI) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(s, api)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return "unix://" + path
}

func TestNew(t *testing.T) {
	for _, mtls := range []bool{false, true} {
		method := map[bool]string{false: "jwt_svid", true: "tls_client_auth"}[mtls]
		t.Run(method, func(t *testing.T) {
			env := oauthtest.New(t)
			ent := env.Entry("orders", "invoices:read")
			cl, _ := env.Client(kithoauth.ClientSpec{EntryID: ent.ID, AuthMethod: method, Scopes: []string{"invoices:read"},
				Audiences: []string{"spiffe://kith.test/billing"}})
			own := env.SVID("orders")
			addr := serve(t, &fakeAPI{env: env, name: "orders", cert: own})
			ts, closer, err := kithworkload.New(t.Context(), kithworkload.Config{
				TokenURL: env.BaseURL + kithoauth.PathToken, Addr: addr, MTLS: mtls,
				ServerID: "spiffe://kith.test/kith/server", Clock: env.Clock.Now,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer closer.Close()
			tok, err := ts.Token(t.Context())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			v, err := oauth.NewVerifier(oauth.VerifierConfig{Issuer: env.Issuer, Audience: "spiffe://kith.test/billing",
				HTTPClient: env.HTTPClient(), Clock: env.Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			var p oauth.Presentation
			if mtls {
				// Bound to the workload's own certificate, not to another.
				if _, err := v.VerifyToken(t.Context(), tok.AccessToken, oauth.Presentation{ClientCert: env.SVID("orders").Leaf}); !errors.Is(err, oauth.ErrBinding) {
					t.Errorf("verify with another certificate: %v, want ErrBinding", err)
				}
				p.ClientCert = own.Leaf
			}
			c, err := v.VerifyToken(t.Context(), tok.AccessToken, p)
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
			if c.ClientID != string(cl.ID) || c.ACR != kithoauth.ACRSVID {
				t.Errorf("claims %+v", c)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	t.Setenv("SPIFFE_ENDPOINT_SOCKET", "")
	if _, _, err := kithworkload.New(t.Context(), kithworkload.Config{TokenURL: "https://kith.test/oauth2/token"}); !errors.Is(err, kithworkload.ErrNoWorkloadAPI) {
		t.Errorf("without a Workload API or fallback: %v, want ErrNoWorkloadAPI", err)
	}
	ts, closer, err := kithworkload.New(t.Context(), kithworkload.Config{TokenURL: "https://kith.test/oauth2/token",
		Fallback: &oauth.TokenSourceConfig{TokenURL: "https://kith.test/oauth2/token", ClientID: "ci_x", Secret: "s",
			HTTPClient: http.DefaultClient}})
	if err != nil || ts == nil {
		t.Fatalf("with a fallback: %v", err)
	}
	closer.Close()
}
