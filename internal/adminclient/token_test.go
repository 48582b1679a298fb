package adminclient_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

func TestTokenNeverShown(t *testing.T) {
	tok := adminclient.NewToken(testSecret)
	cfg := adminclient.Config{Addr: "127.0.0.1:1", Token: tok, TrustDomain: testTD}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "token", tok, "cfg", cfg)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
	}{
		{"%v token", fmt.Sprintf("%v", tok)},
		{"%s token", fmt.Sprintf("%s", tok)},
		{"%q token", fmt.Sprintf("%q", tok)},
		{"%x token", fmt.Sprintf("%x", tok)},
		{"%d token", fmt.Sprintf("%d", tok)},
		{"%#v token", fmt.Sprintf("%#v", tok)},
		{"%v config", fmt.Sprintf("%v", cfg)},
		{"%+v config", fmt.Sprintf("%+v", cfg)},
		{"%#v config", fmt.Sprintf("%#v", cfg)},
		{"%v *config", fmt.Sprintf("%v", &cfg)},
		{"String", tok.String()},
		{"slog", logged.String()},
		{"json", string(js)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.text, testSecret) || strings.Contains(tt.text, fmt.Sprintf("%x", testSecret)) {
				t.Errorf("output contains the token: %s", tt.text)
			}
		})
	}
	if !strings.Contains(fmt.Sprintf("%v", cfg), "[REDACTED]") {
		t.Errorf("%%v of Config = %v, want a redaction marker", cfg)
	}
}

func TestTokenNotInErrors(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	// One refusal from the server, one transport failure: neither error
	// may carry the token.
	srv := adminclienttest.NewTLSServer(t, ca, serverID, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"title":"Forbidden","status":403}`))
	}))
	c := newClient(t, srv, []*x509.Certificate{ca.Cert}, testTD)
	_, err := c.CreateEntry(t.Context(), api.Entry{SPIFFEID: "spiffe://example.org/x"})
	if err == nil {
		t.Fatal("CreateEntry succeeded")
	}
	srv.Close()
	_, err2 := c.ListEntries(t.Context(), adminclient.EntryFilter{})
	if err2 == nil {
		t.Fatal("ListEntries on a closed server succeeded")
	}
	for _, e := range []error{err, err2} {
		for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if strings.Contains(text, testSecret) {
				t.Errorf("error contains the token: %s", text)
			}
		}
	}
}
