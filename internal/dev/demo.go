package dev

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/httpserve"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/proxy"
	"github.com/kith-dev/kith/internal/server"
)

// demoCount is the number of demo services.
const demoCount = 3

// demoServices returns the demo's services, in call order: orders calls
// payments, which calls ledger-db.
func demoServices() [demoCount]string { return [demoCount]string{"orders", "payments", "ledger-db"} }

// demoListeners are the listeners of the demo topology, bound before the
// banner is printed so that it can name them.
type demoListeners struct {
	inbound  [demoCount]net.Listener // mTLS, in front of each service
	upstream [demoCount]net.Listener // plain HTTP, the services themselves
	metrics  net.Listener            // the proxies' Prometheus metrics
}

// listenDemo binds every listener of the demo on loopback.
func listenDemo() (*demoListeners, error) {
	l := &demoListeners{}
	all := []*net.Listener{&l.metrics}
	for i := range demoCount {
		all = append(all, &l.inbound[i], &l.upstream[i])
	}
	for _, p := range all {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			l.close()
			return nil, fmt.Errorf("dev demo: listen: %w", err)
		}
		*p = ln
	}
	return l, nil
}

// close closes every listener bound so far.
func (l *demoListeners) close() {
	for i := range demoCount {
		for _, ln := range []net.Listener{l.inbound[i], l.upstream[i]} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if l.metrics != nil {
		l.metrics.Close()
	}
}

// demoConfig is what the demo topology needs from [Run].
type demoConfig struct {
	srv    *server.Server
	lns    *demoListeners
	admin  *adminclient.Client
	socket string // the dev agent's Workload API socket
	view   string // the dev agent's data-plane socket
	// registered is closed once the demo entries are registered under
	// the dev agent.
	registered <-chan struct{}
	logger     *slog.Logger
	// interval is the traffic generator's pause between calls.
	interval time.Duration
}

// demoPolicies returns the demo's policies: the dev user may call orders,
// orders may charge payments, payments may write records to ledger-db;
// every other pair is denied by default.
func demoPolicies(td spiffeid.TrustDomain) []policy.Document {
	id := func(p string) string { return spiffeid.RequireFromPath(td, "/"+p).String() }
	allow := func(name, target, caller string, methods []string, paths ...string) policy.Document {
		return policy.Document{Name: "demo-" + name, Description: "kith dev demo", Target: id(target), Rules: []policy.Rule{{
			Name: caller + "-to-" + target, From: policy.From{SPIFFEIDs: []string{id(caller)}},
			To: policy.To{Methods: methods, Paths: paths}, Action: policy.ActionAllow,
		}}}
	}
	return []policy.Document{
		allow("orders", "orders", "dev-user", []string{"GET"}, "/order", "/peek"),
		allow("payments", "payments", "orders", []string{"POST"}, "/charge/*"),
		allow("ledger-db", "ledger-db", "payments", []string{"POST"}, "/records/*"),
	}
}

// runDemo runs the demo topology until ctx is done: the three services
// behind inbound proxies, the outbound transports between them and a
// traffic generator. It returns nil when ctx is done.
func runDemo(ctx context.Context, cfg demoConfig) error {
	defer cfg.lns.close()
	select {
	case <-cfg.registered:
	case <-ctx.Done():
		return nil
	}
	td := cfg.srv.TrustDomain()
	raws := make([]json.RawMessage, 0, 3)
	for _, d := range demoPolicies(td) {
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		raws = append(raws, b)
	}
	res, err := cfg.admin.ApplyPolicies(ctx, raws)
	if err != nil {
		return fmt.Errorf("dev demo: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 16)
	start := func(name string, fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("dev demo %s: %w", name, err)
				cancel()
			}
		})
	}

	// The proxies upload through the dev agent, which forwards to the
	// server's ledger as "call.decided" events, as in production.
	feed, err := proxy.NewFeed(proxy.FeedConfig{DataPlaneSocket: cfg.view, Logger: cfg.logger})
	if err != nil {
		return err
	}
	start("data plane", feed.Run)
	view, tel := feed.View(), feed.Telemetry()
	start("metrics", func(ctx context.Context) error {
		mux := http.NewServeMux()
		mux.Handle("/metrics", tel.Handler())
		return serveHTTP(ctx, cfg.lns.metrics, mux)
	})

	ids := map[string]spiffeid.ID{"dev-user": spiffeid.RequireFromPath(td, "/dev-user")}
	srcs := map[string]*workloadapi.X509Source{}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	names := demoServices()
	for _, name := range append([]string{"dev-user"}, names[:]...) {
		if _, ok := ids[name]; !ok {
			ids[name] = spiffeid.RequireFromPath(td, "/"+name)
		}
		src, err := x509SourceFor(ctx, cfg.socket, ids[name])
		if err != nil {
			return demoStopped(ctx, errc, err)
		}
		srcs[name] = src
	}
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return demoStopped(ctx, errc, nil)
	}
	for view.PolicyEngine().Revision() < res.Revision {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return demoStopped(ctx, errc, nil)
		}
	}

	// client returns an HTTP client calling service as caller, over mTLS.
	client := func(caller, service string) (*http.Client, error) {
		rt, err := proxy.NewTransport(proxy.TransportConfig{DestinationID: ids[service], SVID: srcs[caller],
			Bundles: view, Revocations: view})
		if err != nil {
			return nil, err
		}
		return &http.Client{Transport: rt, Timeout: 10 * time.Second}, nil
	}
	base := func(service int) string { return "https://" + cfg.lns.inbound[service].Addr().String() }
	ordersToPayments, err := client("orders", "payments")
	if err != nil {
		return err
	}
	ordersToLedger, err := client("orders", "ledger-db")
	if err != nil {
		return err
	}
	paymentsToLedger, err := client("payments", "ledger-db")
	if err != nil {
		return err
	}
	handlers := [demoCount]http.Handler{
		ordersHandler(ordersToPayments, base(1), ordersToLedger, base(2)),
		paymentsHandler(paymentsToLedger, base(2)),
		ledgerHandler(),
	}
	for i, name := range names {
		start(name, func(ctx context.Context) error { return serveHTTP(ctx, cfg.lns.upstream[i], handlers[i]) })
		enf, err := feed.Enforcer(proxy.EnforcerConfig{Target: ids[name]})
		if err != nil {
			return err
		}
		up := &url.URL{Scheme: "http", Host: cfg.lns.upstream[i].Addr().String()}
		in, err := proxy.NewInbound(proxy.InboundConfig{Listener: cfg.lns.inbound[i], Upstream: up, Enforcer: enf,
			SVID: srcs[name], Telemetry: tel, Logger: cfg.logger})
		if err != nil {
			return err
		}
		start(name+" proxy", in.Run)
	}
	gen, err := client("dev-user", "orders")
	if err != nil {
		return err
	}
	start("traffic", func(ctx context.Context) error {
		return generateTraffic(ctx, gen, base(0), cfg.interval, &trafficWatch{logger: cfg.logger})
	})
	return demoStopped(ctx, errc, nil)
}

// demoStopped waits for ctx (or the first failure of a part) and returns
// err, else that failure, else nil. The caller's deferred cancel and
// wait stop the rest.
func demoStopped(ctx context.Context, errc <-chan error, err error) error {
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	<-ctx.Done()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// x509SourceFor returns a source of the agent's Workload API that serves
// the SVID of id: the current user matches every demo entry, so the
// source picks by ID, and waits until that SVID is there.
func x509SourceFor(ctx context.Context, socket string, id spiffeid.ID) (*workloadapi.X509Source, error) {
	src, err := workloadapi.NewX509Source(ctx,
		workloadapi.WithClientOptions(workloadapi.WithAddr("unix://"+socket)),
		workloadapi.WithDefaultX509SVIDPicker(func(svids []*x509svid.SVID) *x509svid.SVID {
			for _, s := range svids {
				if s.ID == id {
					return s
				}
			}
			return svids[0]
		}))
	if err != nil {
		return nil, fmt.Errorf("dev demo: X509 source for %s: %w", id, err)
	}
	for {
		if s, err := src.GetX509SVID(); err == nil && s.ID == id {
			return src, nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			src.Close()
			return nil, ctx.Err()
		}
	}
}

// serveHTTP serves h on ln until ctx is done.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	return httpserve.Run(ctx, ln, httpserve.Config{Handler: h, ShutdownTimeout: 5 * time.Second})
}

// call sends method to url with c and returns the status and body.
func call(ctx context.Context, c *http.Client, method, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}

// ordersHandler is the orders service: GET /order charges payments; GET
// /peek tries to read ledger-db directly, which the policies deny.
func ordersHandler(payments *http.Client, paymentsURL string, ledgerDB *http.Client, ledgerURL string) http.Handler {
	mux := http.NewServeMux()
	var n sync.Mutex
	next := 0
	mux.HandleFunc("GET /order", func(w http.ResponseWriter, r *http.Request) {
		n.Lock()
		next++
		id := next
		n.Unlock()
		code, body, err := call(r.Context(), payments, http.MethodPost, paymentsURL+"/charge/"+strconv.Itoa(id))
		relay(w, "order "+strconv.Itoa(id)+": payments said", code, body, err)
	})
	mux.HandleFunc("GET /peek", func(w http.ResponseWriter, r *http.Request) {
		code, body, err := call(r.Context(), ledgerDB, http.MethodPost, ledgerURL+"/records/peek")
		relay(w, "orders → ledger-db directly: ledger-db said", code, body, err)
	})
	return mux
}

// paymentsHandler is the payments service: POST /charge/{id} writes a
// record to ledger-db.
func paymentsHandler(ledgerDB *http.Client, ledgerURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /charge/{id}", func(w http.ResponseWriter, r *http.Request) {
		code, body, err := call(r.Context(), ledgerDB, http.MethodPost, ledgerURL+"/records/"+r.PathValue("id"))
		relay(w, "charged; ledger-db said", code, body, err)
	})
	return mux
}

// ledgerHandler is the ledger-db service: POST /records/{id} records.
func ledgerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /records/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "recorded %s for %s", r.PathValue("id"), r.Header.Get(proxy.HeaderCallerSPIFFEID))
	})
	return mux
}

// relay answers with what the next service said, keeping its status.
func relay(w http.ResponseWriter, what string, code int, body string, err error) {
	if err != nil {
		http.Error(w, what+" nothing: unreachable", http.StatusBadGateway)
		return
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "%s %d: %s\n", what, code, body)
}

// generateTraffic calls orders every interval (one call at a time, so the
// rate is bounded) until ctx is done: mostly orders, and every fifth call
// a peek that the policies deny. watch is told how each order fared.
func generateTraffic(ctx context.Context, c *http.Client, ordersURL string, interval time.Duration, watch *trafficWatch) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		path := "/order"
		if i%5 == 0 {
			path = "/peek"
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		code, body, err := call(cctx, c, http.MethodGet, ordersURL+path) // the outcome is in the metrics and the ledger
		cancel()
		if path == "/order" && ctx.Err() == nil {
			watch.observe(code, body, err)
		}
	}
}

// trafficWatch logs when the demo's orders start being refused, and when
// they go through again, once each time: a policy, a quarantine or a
// revocation the user made shows in the log, not only in the ledger.
type trafficWatch struct {
	logger  *slog.Logger
	refused bool
}

// observe takes the outcome of one GET /order.
func (w *trafficWatch) observe(code int, body string, err error) {
	ok := err == nil && code == http.StatusOK
	switch {
	case !ok && !w.refused:
		w.refused = true
		why := fmt.Sprintf("%d %s", code, strings.TrimSpace(body))
		if err != nil {
			why = err.Error()
		}
		w.logger.Warn("kith dev: the demo's calls are being refused (kith audit tail --calls shows the decisions)",
			"call", "dev-user → orders → payments → ledger-db", "answer", truncateText(why, 200))
	case ok && w.refused:
		w.refused = false
		w.logger.Warn("kith dev: the demo's calls go through again")
	}
}

// truncateText returns s cut to at most n bytes, marked when cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
