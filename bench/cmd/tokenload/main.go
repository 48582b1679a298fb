// Command tokenload drives a running kith server's token service from
// another process, over HTTPS with keep-alive, and reports throughput and
// latency.
//
// It reads the server's address, trust bundle and admin token from its
// data folder, registers an entry and a set of OAuth clients through the
// admin API, then, from -conns connections, for -duration:
//
//   - -mode token: asks for tokens with client_secret_basic or
//     private_key_jwt (-auth), spreading the requests over the clients;
//   - -mode introspect: introspects a token of each client, as that
//     client.
//
// It prints requests per second and the 50th, 99th and 99.9th percentile
// latency. private_key_jwt assertions are signed before the timed run, so
// that the client's signing does not compete with the server for CPU.
//
// -mode floor measures the same load against a minimal Go HTTPS server
// instead (see floor.go): the ceiling this machine and client allow.
//
//	go run ./cmd/kith server --trust-domain bench.test --data /tmp/kd --listen 127.0.0.1:8443 &
//	cd bench && go run ./cmd/tokenload -data /tmp/kd -conns 32 -duration 10s -auth client_secret_basic
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenload:", err)
		os.Exit(1)
	}
}

// config is what the flags ask for.
type config struct {
	dataDir  string
	addr     string
	mode     string
	auth     string
	conns    int
	clients  int
	duration time.Duration
	warmup   time.Duration
	// presignRate is the request rate private_key_jwt assertions are
	// signed for; a run that goes faster runs out and reports errors.
	presignRate int
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tokenload", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.dataDir, "data", "kith-data", "the server's data folder: address, bundle.pem and admin.token")
	fs.StringVar(&cfg.addr, "addr", "", "host:port of the server (default: the data folder's server.json)")
	fs.StringVar(&cfg.mode, "mode", "token", "token, introspect, or floor (a minimal Go HTTPS server in a child process)")
	serve := fs.Bool("serve-floor", false, "serve the floor (run by -mode floor)")
	fs.StringVar(&cfg.auth, "auth", "client_secret_basic", "client_secret_basic or private_key_jwt (-mode token)")
	fs.IntVar(&cfg.conns, "conns", 32, "concurrent keep-alive connections")
	fs.IntVar(&cfg.clients, "clients", 200, "OAuth clients to spread the load over (each is rate limited on its own)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of the measured run")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured run before it")
	fs.IntVar(&cfg.presignRate, "presign-rate", 25_000, "requests per second to pre-sign private_key_jwt assertions for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *serve {
		return serveFloor()
	}
	switch {
	case cfg.mode != "token" && cfg.mode != "introspect" && cfg.mode != "floor":
		return fmt.Errorf("-mode must be token, introspect or floor")
	case cfg.auth != "client_secret_basic" && cfg.auth != "private_key_jwt":
		return fmt.Errorf("-auth must be client_secret_basic or private_key_jwt")
	case cfg.conns < 1 || cfg.clients < 1 || cfg.duration <= 0:
		return fmt.Errorf("-conns, -clients and -duration must be positive")
	}
	if cfg.mode == "introspect" || cfg.mode == "floor" {
		cfg.auth = "client_secret_basic"
	}
	var t *target
	var err error
	if cfg.mode == "floor" {
		var stop func()
		if t, stop, err = startFloor(ctx, cfg.clients); err != nil {
			return err
		}
		defer stop()
	} else if t, err = setup(ctx, cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server %s, mode %s, auth %s, %d clients, %d connections, %v\n",
		t.base, cfg.mode, cfg.auth, cfg.clients, cfg.conns, cfg.duration)
	if cfg.auth == "private_key_jwt" && cfg.mode == "token" {
		start := time.Now()
		if err := t.presign(cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pre-signed %d assertions in %v\n", t.assertionCount(), time.Since(start).Round(time.Millisecond))
	}
	if cfg.mode == "introspect" {
		if err := t.fetchTokens(ctx); err != nil {
			return err
		}
	}
	if cfg.warmup > 0 {
		t.load(ctx, cfg.conns, cfg.warmup)
	}
	res := t.load(ctx, cfg.conns, cfg.duration)
	res.print(stdout, cfg.mode)
	if res.ok == 0 {
		return fmt.Errorf("no request succeeded")
	}
	return nil
}
