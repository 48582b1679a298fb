package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPrintedAddressVerifies is `curl --cacert DATA/bundle.pem
// https://127.0.0.1:PORT/healthz` with Go's verifier: the server's
// certificate names the IP address it listens on (and localhost), so a
// Web PKI client holding bundle.pem verifies it at the address printed
// for it (the dev banner's https://ADDR), and the OAuth metadata found
// there names that same base URL as issuer (RFC 8414 §3.3).
func TestPrintedAddressVerifies(t *testing.T) {
	ts := startServer(t, "example.org")
	printed := "https://" + ts.Addr() // what kith dev and kith server print
	pemBytes, err := os.ReadFile(filepath.Join(ts.dir, "bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bundle.pem holds no certificate")
	}
	curl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	for _, base := range []string{printed, "https://" + net.JoinHostPort("localhost", port(ts.Addr()))} {
		resp, err := curl.Get(base + "/healthz")
		if err != nil {
			t.Errorf("GET %s/healthz verifying with bundle.pem: %v", base, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s/healthz: %d", base, resp.StatusCode)
		}
	}
	resp, err := curl.Get(printed + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatalf("metadata at the printed address: %v", err)
	}
	defer resp.Body.Close()
	var md struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != printed || md.TokenEndpoint != printed+"/oauth2/token" {
		t.Errorf("metadata at %s: issuer %q, token endpoint %q; want the printed base URL", printed, md.Issuer, md.TokenEndpoint)
	}
	if ts.URL() != printed {
		t.Errorf("URL() = %q, want %q", ts.URL(), printed)
	}
}

// TestServerNames: the names of the server's certificate and its base
// URL, for each kind of listen address.
func TestServerNames(t *testing.T) {
	ip := func(s string) net.IP { return net.ParseIP(s) }
	for _, tc := range []struct {
		name, listen, issuer string
		wantIPs              []net.IP
		wantDNS              []string
		wantURL              string
	}{
		{name: "IPv4 loopback", listen: "127.0.0.1:8443", wantIPs: []net.IP{ip("127.0.0.1")}, wantDNS: []string{"localhost"}, wantURL: "https://127.0.0.1:8443"},
		{name: "IPv6 loopback", listen: "[::1]:8443", wantIPs: []net.IP{ip("::1")}, wantDNS: []string{"localhost"}, wantURL: "https://[::1]:8443"},
		{name: "an address", listen: "10.1.2.3:8443", wantIPs: []net.IP{ip("10.1.2.3")}, wantDNS: []string{"localhost"}, wantURL: "https://10.1.2.3:8443"},
		{name: "public issuer", listen: "10.1.2.3:8443", issuer: "https://kith.example.org", wantIPs: []net.IP{ip("10.1.2.3")},
			wantDNS: []string{"localhost", "kith.example.org"}, wantURL: "https://10.1.2.3:8443"},
		{name: "issuer by IP", listen: "10.1.2.3:8443", issuer: "https://192.0.2.7:443/", wantIPs: []net.IP{ip("10.1.2.3"), ip("192.0.2.7")},
			wantDNS: []string{"localhost"}, wantURL: "https://10.1.2.3:8443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			n, err := serverNames(addr, tc.issuer)
			if err != nil {
				t.Fatal(err)
			}
			if !sameIPs(n.ips, tc.wantIPs) || !equalStrings(n.dns, tc.wantDNS) || n.url != tc.wantURL {
				t.Errorf("names = ips %v dns %v url %s; want %v %v %s", n.ips, n.dns, n.url, tc.wantIPs, tc.wantDNS, tc.wantURL)
			}
		})
	}
	// An unspecified address is every address of the host: the names are
	// the host's addresses, the URL loopback's.
	n, err := serverNames(&net.TCPAddr{IP: net.IPv4zero, Port: 8443}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n.url != "https://127.0.0.1:8443" || !containsIP(n.ips, ip("127.0.0.1")) {
		t.Errorf("unspecified: ips %v url %s; want 127.0.0.1 among the names and as the URL", n.ips, n.url)
	}
}

func sameIPs(a, b []net.IP) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, x := range ips {
		if x.Equal(ip) {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
