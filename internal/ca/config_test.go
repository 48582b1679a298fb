package ca

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no trust domain", func(c *Config) { c.TrustDomain = spiffeid.TrustDomain{} }, "TrustDomain is required"},
		{"no journal", func(c *Config) { c.Journal = nil }, "Journal is required"},
		{"no KEK", func(c *Config) { c.KEK = nil }, "KEK is required"},
		{"zero KEK", func(c *Config) { c.KEK = &KEK{} }, "KEK is required"},
		{"no auditor", func(c *Config) { c.Auditor = nil }, "Auditor is required"},
		{"CA TTL too short", func(c *Config) { c.CATTL = time.Second }, "CATTL"},
		{"negative CA TTL", func(c *Config) { c.CATTL = -time.Hour }, "CATTL"},
		{"negative X509 TTL", func(c *Config) { c.X509SVIDTTL = -1 }, "X509SVIDTTL"},
		{"X509 TTL above CA TTL", func(c *Config) { c.X509SVIDTTL = 25 * time.Hour }, "X509SVIDTTL"},
		{"JWT TTL above CA TTL", func(c *Config) { c.JWTSVIDTTL = 48 * time.Hour }, "JWTSVIDTTL"},
		{"negative refresh hint", func(c *Config) { c.RefreshHint = -time.Minute }, "RefreshHint"},
		{"empty upstream", func(c *Config) { c.Upstream = &Upstream{} }, "upstream: no certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config()
			tt.mutate(&cfg)
			c, err := New(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, %v; want error containing %q", c, err, tt.wantErr)
			}
			if e.journal.puts != 0 {
				t.Error("New wrote the journal despite an invalid config")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantHint time.Duration
	}{
		{"zero", Config{}, 1 * time.Hour}, // 24h/10 capped at 1h
		{"short CA TTL", Config{CATTL: 10 * time.Minute, X509SVIDTTL: time.Minute, JWTSVIDTTL: time.Minute}, time.Minute},
		{"explicit hint", Config{RefreshHint: 30 * time.Second}, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCA(t, func(cfg *Config) {
				cfg.CATTL, cfg.X509SVIDTTL, cfg.JWTSVIDTTL, cfg.RefreshHint = tt.cfg.CATTL, tt.cfg.X509SVIDTTL, tt.cfg.JWTSVIDTTL, tt.cfg.RefreshHint
			})
			hint, ok := c.Bundle().RefreshHint()
			if !ok || hint != tt.wantHint {
				t.Errorf("RefreshHint = %v, %v; want %v", hint, ok, tt.wantHint)
			}
			if c.cfg.Logger == nil || c.cfg.Clock == nil {
				t.Error("Logger or Clock not defaulted")
			}
		})
	}
}

func TestNewCreatesFirstKey(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	ids := slotIDs(c)
	if got, want := e.auditor.take(), []string{audit.TypeCAKeyActivated + " " + ids[statusActive]}; !cmp.Equal(got, want) {
		t.Errorf("events: %v", cmp.Diff(want, got))
	}
	if len(ids) != 1 {
		t.Errorf("slots %v, want one active", ids)
	}
	if c.TrustDomain() != e.td {
		t.Errorf("TrustDomain = %v", c.TrustDomain())
	}
	roots := c.X509Authorities()
	if len(roots) != 1 {
		t.Fatalf("%d roots, want 1", len(roots))
	}
	root := roots[0]
	if !root.IsCA || !root.BasicConstraintsValid {
		t.Error("CA certificate is not a CA")
	}
	if got, want := root.KeyUsage, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageCRLSign; got != want {
		t.Errorf("CA KeyUsage = %b, want %b", got, want)
	}
	if len(root.URIs) != 1 || root.URIs[0].String() != "spiffe://example.org" {
		t.Errorf("CA URIs = %v, want [spiffe://example.org]", root.URIs)
	}
	if got, want := root.NotAfter.Sub(e.t0), DefaultCATTL; got != want {
		t.Errorf("CA lifetime from now = %v, want %v", got, want)
	}
	wantSubject := pkix.Name{Organization: []string{"Kith"}, CommonName: "example.org"}
	if root.Subject.String() != wantSubject.String() {
		t.Errorf("CA subject = %v, want %v", root.Subject, wantSubject)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
}

func TestNewFailsWhenAuditFails(t *testing.T) {
	e := newEnv(t)
	e.auditor.err = errors.New("ledger down")
	if _, err := New(context.Background(), e.config()); err == nil || !strings.Contains(err.Error(), "ledger down") {
		t.Fatalf("New = %v, want the audit error", err)
	}
}

func TestCustomSubject(t *testing.T) {
	e := newEnv(t)
	subject := pkix.Name{Country: []string{"NL"}, Organization: []string{"Acme"}, CommonName: "Acme CA"}
	c := e.newCA(t, func(cfg *Config) { cfg.Subject = subject })
	if got := c.X509Authorities()[0].Subject.String(); got != subject.String() {
		t.Errorf("CA subject = %v, want %v", got, subject)
	}
	svid := mint(t, c, 0)
	if got, want := svid.Certificates[0].Subject.String(), "O=Acme,C=NL"; got != want {
		t.Errorf("SVID subject = %v, want %v", got, want)
	}
}
