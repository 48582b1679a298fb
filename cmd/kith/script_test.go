package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kith-dev/kith/internal/server"
)

// TestScripts runs the CLI scenarios in testdata/script against two real
// in-process servers: trust domain a.test (KITH_DATA, $A_ADDR) and b.test
// ($B_DATA, $B_ADDR).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			a, err := startScriptServer(env, "a.test", "a-data")
			if err != nil {
				return err
			}
			b, err := startScriptServer(env, "b.test", "b-data")
			if err != nil {
				return err
			}
			env.Setenv("KITH_DATA", filepath.Join(env.WorkDir, "a-data"))
			env.Setenv("A_ADDR", a.Addr())
			env.Setenv("B_DATA", filepath.Join(env.WorkDir, "b-data"))
			env.Setenv("B_ADDR", b.Addr())
			return nil
		},
	})
}

func startScriptServer(env *testscript.Env, td, dir string) (*server.Server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{
		TrustDomain: td,
		ListenAddr:  "127.0.0.1:0",
		DataDir:     filepath.Join(env.WorkDir, dir),
	})
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	env.Defer(func() {
		cancel()
		if err := <-done; err != nil {
			env.T().Fatal(err)
		}
	})
	return srv, nil
}
