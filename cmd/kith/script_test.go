package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"replace": replaceCmd,
			"envjson": envjsonCmd,
		},
	})
}

// replaceCmd is the script command "replace FILE OLD NEW": replace every
// OLD in FILE by NEW. It fails if FILE does not hold OLD.
func replaceCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), args[1]) {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(path, []byte(strings.ReplaceAll(string(b), args[1], args[2])), 0o644))
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
