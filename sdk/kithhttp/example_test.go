package kithhttp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/sdk/kithhttp"
)

// A service guards its handlers with the middleware, fed by the node
// agent, and serves mutual TLS with the X509-SVID the agent's Workload
// API gives it.
func ExampleFromAgent() {
	ctx := context.Background()
	svid, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(
		workloadapi.WithAddr("unix:///var/lib/kith-agent/workload.sock")))
	if err != nil {
		log.Fatal(err)
	}
	defer svid.Close()

	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	mw, feed, err := kithhttp.FromAgent(wait, kithhttp.AgentConfig{
		DataPlaneSocket: "/var/lib/kith-agent/private/dataplane.sock",
		Target:          spiffeid.RequireFromString("spiffe://example.org/payments"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer feed.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/api/charge", func(w http.ResponseWriter, r *http.Request) {
		caller, _ := kithhttp.CallerFromContext(r.Context())
		fmt.Fprintf(w, "hello %s\n", caller.SPIFFEID)
	})
	tc := tlsconfig.TLSServerConfig(svid)
	tc.ClientAuth = tls.RequestClientCert // the middleware verifies the client certificate
	srv := &http.Server{Addr: ":8443", Handler: mw.Handler(mux), TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}
