package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The floor: -mode floor runs the same load against a minimal Go HTTPS
// server in a child process (this binary with -serve-floor), which reads
// the form and the Basic credentials, hashes the secret and answers with
// a fixed token response of a real one's size. What it sustains is what
// HTTPS, net/http and this load generator cost on the machine, a ceiling
// for any token service written in Go measured this way.

// floorResponse is a token response of the size Kith sends (an ES256
// JWT access token of about 480 characters).
var floorResponse = []byte(`{"access_token":"` + strings.Repeat("x", 480) +
	`","token_type":"Bearer","expires_in":300,"scope":"bench"}`)

// serveFloor serves the floor on a loopback port, printing the address
// and the server certificate's PEM on stdout, until the process is killed.
func serveFloor() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		_, secret, ok := r.BasicAuth()
		if !ok {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		_ = sha256.Sum256([]byte(secret))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(floorResponse)
	})
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}}
	return srv.ServeTLS(ln, "", "")
}

// startFloor runs serveFloor in a child process and returns the target
// it serves, with clients clients, and a function that stops it.
func startFloor(ctx context.Context, clients int) (*target, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-serve-floor")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	br := bufio.NewReader(out)
	addr, err := br.ReadString('\n')
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("floor server: %w", err)
	}
	var certPEM []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("floor server: %w", err)
		}
		certPEM = append(certPEM, line...)
		if strings.HasPrefix(string(line), "-----END") {
			break
		}
	}
	t := &target{base: "https://" + strings.TrimSpace(addr), roots: x509.NewCertPool(), body: "grant_type=client_credentials"}
	if !t.roots.AppendCertsFromPEM(certPEM) {
		stop()
		return nil, nil, fmt.Errorf("floor server: no certificate")
	}
	for i := range clients {
		t.clients = append(t.clients, &client{id: fmt.Sprint("floor-", i), secret: "kith_sk_floor"})
	}
	return t, stop, nil
}
