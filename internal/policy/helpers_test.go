package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
)

// t0 is the fixed time of test decisions.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// mustCompile parses and compiles src as file "test.yaml".
func mustCompile(t testing.TB, src string) *Set {
	t.Helper()
	docs, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	s, err := Compile(docs, CompileOptions{Revision: 7, Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

// call returns an input of caller id to target orders, GET path.
func call(id, method, path string) *Input {
	return &Input{
		Target:  "spiffe://example.org/orders",
		Caller:  Caller{SPIFFEID: id},
		Request: Request{Method: method, Host: "orders.internal", Path: path},
		Token:   Token{Present: true, Scopes: []string{"orders.read"}},
		Trust:   Trust{Score: 800, Level: "high"},
		Time:    t0,
	}
}

const (
	billing  = "spiffe://example.org/billing"
	reports  = "spiffe://example.org/ns/finance/sa/reports"
	stranger = "spiffe://example.org/stranger"
	partner  = "spiffe://partner.example/app"
)

// ignorePositions compares documents without where they were read from.
var ignorePositions = cmpopts.IgnoreUnexported(Document{})

// parseDocs parses src as the documents of a file p.yaml.
func parseDocs(t *testing.T, src string) []Document {
	t.Helper()
	docs, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return docs
}
