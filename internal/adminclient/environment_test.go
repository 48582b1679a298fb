package adminclient_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

func TestFromEnvironment(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	otherCA := adminclienttest.NewCA(t, "other.org")

	// data is a populated data folder, empty one with nothing in it.
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "server.json"), `{"addr":"127.0.0.1:9443","trust_domain":"example.org"}`)
	writeFile(t, filepath.Join(data, "admin.token"), "  file-token\n")
	writeFile(t, filepath.Join(data, "bundle.pem"), string(ca.BundlePEM()))
	empty := t.TempDir()
	otherPEM := filepath.Join(t.TempDir(), "other.pem")
	writeFile(t, otherPEM, string(otherCA.BundlePEM()))
	badJSON := t.TempDir()
	writeFile(t, filepath.Join(badJSON, "server.json"), `{`)
	blankToken := t.TempDir()
	writeFile(t, filepath.Join(blankToken, "admin.token"), " \n")
	notPEM := filepath.Join(t.TempDir(), "bad.pem")
	writeFile(t, notPEM, "hello")

	type want struct {
		Addr, TrustDomain string
		RootCN            string
	}
	tests := []struct {
		name    string
		o       adminclient.Overrides
		env     map[string]string
		want    want
		wantErr string
	}{
		{
			name: "data folder from flag",
			o:    adminclient.Overrides{DataDir: data},
			want: want{Addr: "127.0.0.1:9443", TrustDomain: "example.org", RootCN: "test CA example.org"},
		},
		{
			name: "data folder from env",
			env:  map[string]string{"KITH_DATA": data},
			want: want{Addr: "127.0.0.1:9443", TrustDomain: "example.org", RootCN: "test CA example.org"},
		},
		{
			name: "flag beats env",
			o:    adminclient.Overrides{DataDir: data, Addr: "10.0.0.1:1", TrustDomain: "flag.org", CABundle: otherPEM},
			env:  map[string]string{"KITH_DATA": empty, "KITH_ADDR": "10.0.0.2:2", "KITH_TRUST_DOMAIN": "env.org", "KITH_CA_BUNDLE": notPEM},
			want: want{Addr: "10.0.0.1:1", TrustDomain: "flag.org", RootCN: "test CA other.org"},
		},
		{
			name: "env beats data folder",
			env:  map[string]string{"KITH_DATA": data, "KITH_ADDR": "10.0.0.2:2", "KITH_TRUST_DOMAIN": "env.org", "KITH_CA_BUNDLE": otherPEM},
			want: want{Addr: "10.0.0.2:2", TrustDomain: "env.org", RootCN: "test CA other.org"},
		},
		{
			name: "defaults without server.json",
			o:    adminclient.Overrides{DataDir: empty, CABundle: otherPEM},
			env:  map[string]string{"KITH_ADMIN_TOKEN": "env-token"},
			want: want{Addr: "127.0.0.1:8443", RootCN: "test CA other.org"},
		},
		{
			name:    "no token",
			o:       adminclient.Overrides{DataDir: empty, CABundle: otherPEM},
			wantErr: "no admin token: set KITH_ADMIN_TOKEN, or point --data",
		},
		{
			name:    "blank token file",
			o:       adminclient.Overrides{DataDir: blankToken, CABundle: otherPEM},
			wantErr: "admin.token is empty",
		},
		{
			name:    "no roots",
			o:       adminclient.Overrides{DataDir: empty},
			env:     map[string]string{"KITH_ADMIN_TOKEN": "env-token"},
			wantErr: "no trust anchors for the server: set --ca-bundle",
		},
		{
			name:    "missing CA bundle file",
			o:       adminclient.Overrides{DataDir: data, CABundle: filepath.Join(empty, "nope.pem")},
			wantErr: "read CA bundle",
		},
		{
			name:    "CA bundle without certificates",
			o:       adminclient.Overrides{DataDir: data, CABundle: notPEM},
			wantErr: "no PEM certificates found",
		},
		{
			name:    "bad server.json",
			o:       adminclient.Overrides{DataDir: badJSON},
			wantErr: "read server info",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Getenv = func(k string) string { return tt.env[k] }
			cfg, err := adminclient.FromEnvironment(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := want{Addr: cfg.Addr, TrustDomain: cfg.TrustDomain}
			if len(cfg.Roots) == 1 {
				got.RootCN = cfg.Roots[0].Subject.CommonName
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if cfg.Token.IsZero() {
				t.Error("no token resolved")
			}
		})
	}
}

func TestFromEnvironmentTokenSource(t *testing.T) {
	ca := adminclienttest.NewCA(t, testTD)
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "admin.token"), "file-token\n")
	writeFile(t, filepath.Join(data, "bundle.pem"), string(ca.BundlePEM()))
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "file, trimmed", want: "Bearer file-token"},
		{name: "env beats file", env: map[string]string{"KITH_ADMIN_TOKEN": "env-token"}, want: "Bearer env-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := adminclienttest.NewTLSServer(t, ca, serverID, authRecorder(&got))
			cfg, err := adminclient.FromEnvironment(adminclient.Overrides{
				DataDir: data, Addr: srv.Listener.Addr().String(),
				Getenv: func(k string) string { return tt.env[k] },
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := adminclient.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Bundle(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Authorization = %q, want %q", got, tt.want)
			}
		})
	}
}

// writeFile writes content to path with mode 0600.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestConfigured(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./kith-data
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name string
		o    adminclient.Overrides
		want bool
	}{
		{"nothing", adminclient.Overrides{Getenv: env(nil)}, false},
		{"a CA bundle or trust domain alone names no server",
			adminclient.Overrides{CABundle: "b.pem", TrustDomain: "example.org", Getenv: env(nil)}, false},
		{"--addr", adminclient.Overrides{Addr: "127.0.0.1:8443", Getenv: env(nil)}, true},
		{"--data", adminclient.Overrides{DataDir: "d", Getenv: env(nil)}, true},
		{"KITH_ADDR", adminclient.Overrides{Getenv: env(map[string]string{"KITH_ADDR": "h:1"})}, true},
		{"KITH_DATA", adminclient.Overrides{Getenv: env(map[string]string{"KITH_DATA": "d"})}, true},
		{"KITH_ADMIN_TOKEN", adminclient.Overrides{Getenv: env(map[string]string{"KITH_ADMIN_TOKEN": "t"})}, true},
	}
	for _, tc := range tests {
		if got := adminclient.Configured(tc.o); got != tc.want {
			t.Errorf("%s: Configured = %v, want %v", tc.name, got, tc.want)
		}
	}
	if err := os.Mkdir("kith-data", 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join("kith-data", "admin.token"), "tok")
	if !adminclient.Configured(adminclient.Overrides{Getenv: env(nil)}) {
		t.Error("./kith-data/admin.token: Configured = false, want true")
	}
}
