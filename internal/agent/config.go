package agent

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultDataDir is the data folder when Config.DataDir is empty.
const DefaultDataDir = "kith-agent-data"

// Config configures an [Agent]. Zero values of optional fields are
// documented defaults.
type Config struct {
	// ServerURL is the server's base URL, such as https://kith.example:8443.
	// Required.
	ServerURL string
	// JoinToken is the one-time token from `kith agent token create`. It is
	// required when the data folder holds no valid identity, and ignored
	// otherwise.
	JoinToken JoinToken
	// SocketPath is the Unix socket of the Workload API. Required.
	SocketPath string
	// DataDir holds the agent's key and SVID and its cache; created 0700.
	// [DefaultDataDir] when empty.
	DataDir string
	// TrustDomain, if set, pins the server's trust domain. When empty it
	// is taken from the persisted state, or else from the trust bundle's
	// root certificates, or else from the attestation answer.
	TrustDomain string
	// TrustBundle and TrustBundleFile (PEM) are the roots that verify the
	// server's certificate on first start (SPIRE's trust_bundle_path).
	// One is required unless the data folder already holds a bundle or
	// InsecureBootstrap is set; later bundles come from the server.
	TrustBundle     []*x509.Certificate
	TrustBundleFile string
	// InsecureBootstrap skips verification of the server's certificate for
	// the first attestation only, trusting the bundle the server returns.
	// It is logged as a warning; use it only on a network you trust.
	InsecureBootstrap bool
	// DataPlaneSocketPath is the Unix socket of the data-plane feed that
	// proxies and SDK middleware follow (see package dataplane); empty
	// means <DataDir>/private/dataplane.sock. The socket is mode 0660 in
	// a folder made 0750: proxies run as a trusted local user of the
	// agent's group, and must be able to reach the folder (DataDir is
	// 0700, so a proxy of another user needs DataDir made 0710 with that
	// group, or a path elsewhere). Proxies verify revocations themselves
	// but trust the feed's bundles, keys and policies.
	DataPlaneSocketPath string
	// HealthAddr, if set, serves /healthz, /readyz and /metrics over plain
	// HTTP on this address (such as 127.0.0.1:8088).
	HealthAddr string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// JoinToken is a one-time join token. It is a secret: it prints as
// "REDACTED" and cannot be compared with ==.
type JoinToken struct {
	_ [0]func() // not comparable
	v string
}

// NewJoinToken returns s as a JoinToken.
func NewJoinToken(s string) JoinToken { return JoinToken{v: s} }

// IsZero reports whether the token is empty.
func (t JoinToken) IsZero() bool { return t.v == "" }

// String returns "REDACTED" (or "" for an empty token), never the token.
func (t JoinToken) String() string {
	if t.v == "" {
		return ""
	}
	return "REDACTED"
}

// LogValue keeps the token out of logs.
func (t JoinToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// validate checks cfg, fills defaults and returns the parsed server URL and
// the bootstrap roots.
// Check reports what [New] would refuse in cfg, without starting
// anything: missing or malformed settings, an unreadable trust bundle
// file. It returns the same errors New does.
func (cfg Config) Check() error {
	_, _, _, err := cfg.validate()
	return err
}

// ConfigError is a problem with one field of a [Config]; [New] and
// [Config.Check] return them (joined, wrapped) so that a command can name
// its own flag for the field.
type ConfigError struct {
	// Field is the Config field's name, such as "ServerURL".
	Field string
	// Err says what is wrong with it.
	Err error
}

// Error returns the field's name and the problem, such as "ServerURL is
// required" or "TrustBundleFile: open b.pem: no such file or directory".
func (e *ConfigError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, "is ") || strings.HasPrefix(msg, "\"") {
		return e.Field + " " + msg
	}
	return e.Field + ": " + msg
}

// Unwrap returns the problem.
func (e *ConfigError) Unwrap() error { return e.Err }

func (cfg *Config) validate() (*url.URL, []*x509.Certificate, spiffeid.TrustDomain, error) {
	var errs []error
	u, err := url.Parse(cfg.ServerURL)
	switch {
	case cfg.ServerURL == "":
		errs = append(errs, &ConfigError{Field: "ServerURL", Err: errors.New("is required")})
	case err != nil:
		errs = append(errs, &ConfigError{Field: "ServerURL", Err: err})
	case u.Scheme != "https" || u.Host == "":
		errs = append(errs, &ConfigError{Field: "ServerURL", Err: fmt.Errorf("%q must be https://host:port", cfg.ServerURL)})
	}
	if cfg.SocketPath == "" {
		errs = append(errs, &ConfigError{Field: "SocketPath", Err: errors.New("is required")})
	} else if !filepath.IsAbs(cfg.SocketPath) {
		if abs, err := filepath.Abs(cfg.SocketPath); err == nil {
			cfg.SocketPath = abs
		}
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.DataPlaneSocketPath == "" {
		cfg.DataPlaneSocketPath = filepath.Join(cfg.DataDir, "private", "dataplane.sock")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var td spiffeid.TrustDomain
	if cfg.TrustDomain != "" {
		if td, err = spiffeid.TrustDomainFromString(cfg.TrustDomain); err != nil {
			errs = append(errs, &ConfigError{Field: "TrustDomain", Err: err})
		}
	}
	roots := cfg.TrustBundle
	if cfg.TrustBundleFile != "" {
		more, err := readPEMCertificates(cfg.TrustBundleFile)
		if err != nil {
			errs = append(errs, &ConfigError{Field: "TrustBundleFile", Err: err})
		}
		roots = append(roots[:len(roots):len(roots)], more...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, td, fmt.Errorf("agent: config: %w", err)
	}
	return u, roots, td, nil
}

// readPEMCertificates reads every CERTIFICATE block of a PEM file; it fails
// if there is none.
func readPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return out, nil
}

// trustDomainOfRoots returns the single trust domain named by the SPIFFE
// URI SANs of roots, or the zero value if there is none or several.
func trustDomainOfRoots(roots []*x509.Certificate) spiffeid.TrustDomain {
	var td spiffeid.TrustDomain
	for _, c := range roots {
		for _, u := range c.URIs {
			id, err := spiffeid.FromURI(u)
			if err != nil {
				continue
			}
			if !td.IsZero() && id.TrustDomain() != td {
				return spiffeid.TrustDomain{}
			}
			td = id.TrustDomain()
		}
	}
	return td
}
