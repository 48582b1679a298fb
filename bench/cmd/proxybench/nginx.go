package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// nginxPair is an "outbound" nginx taking plain HTTP and proxying over
// mTLS (client certificate, verified server certificate, kept-alive
// upstream connections) to an "inbound" nginx that requires a client
// certificate and proxies over plain HTTP to the upstream: the same
// topology as Kith's pair, without authorization.
type nginxPair struct {
	url  string // of the outbound nginx
	cmds []*exec.Cmd
}

// startNginxPair writes certificates and configurations under dir and
// starts two nginx processes (each a master and one worker) from bin.
func startNginxPair(bin, dir, upstream string) (*nginxPair, error) {
	if err := writeCerts(dir); err != nil {
		return nil, err
	}
	inPort, err := freePort()
	if err != nil {
		return nil, err
	}
	outPort, err := freePort()
	if err != nil {
		return nil, err
	}
	common := func(prefix string) string {
		return fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
`, prefix)
	}
	in := filepath.Join(dir, "inbound")
	out := filepath.Join(dir, "outbound")
	confs := map[string]string{
		in: common(in) + fmt.Sprintf(`  upstream app { server %[2]s; keepalive 64; }
  server {
    listen 127.0.0.1:%[3]d ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate %[1]s/server.pem;
    ssl_certificate_key %[1]s/server.key;
    ssl_client_certificate %[1]s/ca.pem;
    ssl_verify_client on;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, dir, upstream, inPort),
		out: common(out) + fmt.Sprintf(`  upstream inbound { server 127.0.0.1:%[2]d; keepalive 64; }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass https://inbound;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate %[1]s/client.pem;
      proxy_ssl_certificate_key %[1]s/client.key;
      proxy_ssl_trusted_certificate %[1]s/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
    }
  }
}
`, dir, inPort, outPort),
	}
	p := &nginxPair{url: fmt.Sprintf("http://127.0.0.1:%d", outPort)}
	for _, prefix := range []string{in, out} {
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return nil, err
		}
		conf := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(conf, []byte(confs[prefix]), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-p", prefix, "-c", conf, "-g", "daemon off;")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			p.stop()
			return nil, err
		}
		p.cmds = append(p.cmds, cmd)
	}
	for _, port := range []int{inPort, outPort} {
		if err := waitListening(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
			p.stop()
			return nil, fmt.Errorf("nginx: %w (see %s/*/error.log)", err, dir)
		}
	}
	return p, nil
}

// pids returns the nginx masters and their workers.
func (p *nginxPair) pids() []int {
	var masters []int
	for _, c := range p.cmds {
		masters = append(masters, c.Process.Pid)
	}
	return withChildren(masters)
}

// stop asks the masters to exit and waits for them.
func (p *nginxPair) stop() {
	for _, c := range p.cmds {
		c.Process.Signal(syscall.SIGQUIT)
	}
	for _, c := range p.cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
}

// writeCerts writes a CA (ca.pem), a server certificate for localhost and
// 127.0.0.1 (server.pem, server.key) and a client certificate
// (client.pem, client.key), all ECDSA P-256 like Kith's SVIDs.
func writeCerts(dir string) error {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "proxybench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	for i, leaf := range []struct {
		name string
		eku  x509.ExtKeyUsage
	}{{"server", x509.ExtKeyUsageServerAuth}, {"client", x509.ExtKeyUsageClientAuth}} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: leaf.name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{leaf.eku}, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return err
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, leaf.name+".pem"), "CERTIFICATE", der); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, leaf.name+".key"), "EC PRIVATE KEY", kder); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times; 100 on
// every Linux architecture Go supports.
const clockTick = 100

// cpuOf returns the user+system CPU time pids have used so far, from
// /proc/<pid>/stat (10 ms resolution).
func cpuOf(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		f := statFields(pid)
		if len(f) < 15 {
			continue
		}
		u, _ := strconv.ParseInt(f[13], 10, 64)
		s, _ := strconv.ParseInt(f[14], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// statFields returns the fields of /proc/<pid>/stat, the command name
// (which may hold spaces) counted as one.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{s[:strings.IndexByte(s, ' ')], s[:i+1]}, strings.Fields(s[i+1:])...)
}

// withChildren returns pids and the processes whose parent is one of
// them.
func withChildren(pids []int) []int {
	out := slices.Clone(pids)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := statFields(pid)
		if len(f) < 4 {
			continue
		}
		ppid, _ := strconv.Atoi(f[3])
		for _, m := range pids {
			if ppid == m {
				out = append(out, pid)
			}
		}
	}
	return out
}
