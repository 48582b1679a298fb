package main

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// envjsonCmd is the script command "envjson NAME FILE PATH": set the
// environment variable NAME to the string at PATH (keys joined by dots,
// such as client.id) in the JSON object in FILE. Scenarios use it to carry
// a server-assigned ID from one command to the next.
func envjsonCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: envjson NAME FILE PATH")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	var v any
	ts.Check(json.Unmarshal(b, &v))
	for _, key := range strings.Split(args[2], ".") {
		m, ok := v.(map[string]any)
		if !ok {
			ts.Fatalf("%s: %s is not inside an object", args[1], args[2])
		}
		v = m[key]
	}
	s, ok := v.(string)
	if !ok || s == "" {
		ts.Fatalf("%s: %s is not a non-empty string", args[1], args[2])
	}
	ts.Setenv(args[0], s)
}
