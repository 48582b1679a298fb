package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunProxyFlags refuses incomplete command lines before touching any
// socket.
func TestRunProxyFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no sockets", []string{"--inbound", ":1=http://127.0.0.1:2", "--target", "spiffe://example.org/a"}, "--workload-socket"},
		{"nothing to proxy", []string{"--workload-socket", "/w", "--dataplane-socket", "/d"}, "--inbound, --outbound"},
		{"inbound without target", []string{"--workload-socket", "/w", "--dataplane-socket", "/d", "--inbound", ":1=http://x"}, "--target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := runProxy(t.Context(), tt.args, &out, &errb)
			if err == nil || !strings.Contains(err.Error()+errb.String(), tt.want) {
				t.Errorf("runProxy = %v (stderr %q), want an error about %s", err, errb.String(), tt.want)
			}
		})
	}
}
