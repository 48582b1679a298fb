package adminclient

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables read by [FromEnvironment].
const (
	EnvData        = "KITH_DATA"
	EnvAddr        = "KITH_ADDR"
	EnvAdminToken  = "KITH_ADMIN_TOKEN"
	EnvCABundle    = "KITH_CA_BUNDLE"
	EnvTrustDomain = "KITH_TRUST_DOMAIN"
)

// DefaultDataDir is the server's data folder when none is configured.
const DefaultDataDir = "kith-data"

// Files the server writes into its data folder for local clients.
const (
	ServerInfoFile = "server.json" // {"addr": ..., "trust_domain": ...}
	BundleFile     = "bundle.pem"  // the trust domain's X.509 roots
	AdminTokenFile = "admin.token" // the admin token, mode 0600
)

// Overrides are the settings given on the command line; an empty field
// falls back to the environment and then to the data folder.
type Overrides struct {
	// DataDir is the server's data folder (--data).
	DataDir string
	// Addr is the admin API's host:port (--addr).
	Addr string
	// CABundle is a PEM file of trust anchors (--ca-bundle).
	CABundle string
	// TrustDomain pins the server's trust domain (--trust-domain).
	TrustDomain string
	// Getenv reads an environment variable; nil means os.Getenv.
	Getenv func(string) string
	// NoToken resolves no admin token: for callers of the server's
	// public routes only (health, the token endpoint; see [ServerClient]).
	NoToken bool
}

// serverInfo is the content of ServerInfoFile.
type serverInfo struct {
	Addr        string `json:"addr"`
	TrustDomain string `json:"trust_domain"`
}

// FromEnvironment resolves a [Config] the way the kith CLI does. Each
// setting is the first that is set of:
//
//   - data folder: o.DataDir, $KITH_DATA, ./kith-data
//   - address: o.Addr, $KITH_ADDR, "addr" of DATA/server.json, [DefaultAddr]
//   - token: $KITH_ADMIN_TOKEN, the content of DATA/admin.token (trimmed)
//   - roots: the PEM certificates of o.CABundle, $KITH_CA_BUNDLE, DATA/bundle.pem
//   - trust domain: o.TrustDomain, $KITH_TRUST_DOMAIN, "trust_domain" of
//     DATA/server.json
//
// It returns an error naming what to set if there is no token or no roots,
// or if a file exists but cannot be read or parsed.
func FromEnvironment(o Overrides) (Config, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	dir := first(o.DataDir, getenv(EnvData), DefaultDataDir)

	info, err := readServerInfo(filepath.Join(dir, ServerInfoFile))
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Addr:        first(o.Addr, getenv(EnvAddr), info.Addr, DefaultAddr),
		TrustDomain: first(o.TrustDomain, getenv(EnvTrustDomain), info.TrustDomain),
	}
	if !o.NoToken {
		if cfg.Token, err = resolveToken(getenv, dir); err != nil {
			return Config{}, err
		}
	}
	if cfg.Roots, err = resolveRoots(first(o.CABundle, getenv(EnvCABundle)), dir); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Configured reports whether o or the environment names a server: an
// address or data folder given (o.Addr, o.DataDir, $KITH_ADDR,
// $KITH_DATA), an admin token in $KITH_ADMIN_TOKEN, or an admin token in
// the default data folder. A command that can work without a server
// (kith scan) asks it before [FromEnvironment], whose error then means
// a server was meant but cannot be reached as configured.
func Configured(o Overrides) bool {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if first(o.Addr, o.DataDir, getenv(EnvAddr), getenv(EnvData), getenv(EnvAdminToken)) != "" {
		return true
	}
	_, err := os.Stat(filepath.Join(DefaultDataDir, AdminTokenFile))
	return err == nil
}

// first returns the first non-empty string of vs.
func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// readServerInfo reads path; a missing file gives the zero serverInfo.
func readServerInfo(path string) (serverInfo, error) {
	var info serverInfo
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return info, nil
	}
	if err != nil {
		return info, fmt.Errorf("read server info: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("read server info %s: %w", path, err)
	}
	return info, nil
}

// resolveToken returns $KITH_ADMIN_TOKEN, or the token in dir.
func resolveToken(getenv func(string) string, dir string) (Token, error) {
	if v := strings.TrimSpace(getenv(EnvAdminToken)); v != "" {
		return NewToken(v), nil
	}
	path := filepath.Join(dir, AdminTokenFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Token{}, fmt.Errorf("no admin token: set %s, or point --data (or %s) at the server's data folder (%s does not exist)", EnvAdminToken, EnvData, path)
	}
	if err != nil {
		return Token{}, fmt.Errorf("read admin token: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Token{}, fmt.Errorf("no admin token: %s is empty; set %s or fix the file", path, EnvAdminToken)
	}
	return NewToken(v), nil
}

// resolveRoots reads the certificates of file, or of the bundle in dir if
// file is empty.
func resolveRoots(file, dir string) ([]*x509.Certificate, error) {
	if file != "" {
		return readRoots(file)
	}
	path := filepath.Join(dir, BundleFile)
	roots, err := readRoots(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no trust anchors for the server: set --ca-bundle (or %s), or point --data (or %s) at the server's data folder (%s does not exist)", EnvCABundle, EnvData, path)
	}
	return roots, err
}

// readRoots returns the certificates of the PEM file at path. It returns an
// error if there are none or one does not parse.
func readRoots(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	roots, err := parsePEMCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle %s: %w", path, err)
	}
	return roots, nil
}

// parsePEMCertificates returns the CERTIFICATE blocks of b, in order. It
// returns an error if there is none or one does not parse; other blocks are
// skipped.
func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificates found")
	}
	return certs, nil
}
