package ca

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
)

func TestRestartReusesKeys(t *testing.T) {
	e := newEnv(t)
	c1 := e.newCA(t)
	e.at(DefaultCATTL / 2)
	rotate(t, c1)
	e.auditor.take()
	puts := e.journal.puts

	c2 := e.newCA(t) // a restart: same journal and KEK
	if !c2.Bundle().Equal(c1.Bundle()) {
		t.Fatal("bundle changed across a restart")
	}
	if got := e.auditor.take(); len(got) != 0 {
		t.Errorf("restart recorded %v", got)
	}
	if e.journal.puts != puts {
		t.Error("restart wrote the journal")
	}
	e.at(0)
	token := mintJWT(t, c2)
	if _, err := jwtsvid.ParseAndValidate(token, c1.Bundle(), []string{"aud"}); err != nil {
		t.Errorf("token from the restarted CA fails the old bundle: %v", err)
	}
	if _, err := verifyX509(t, mint(t, c2, 0), c1.Bundle(), e.t0); err != nil {
		t.Errorf("SVID from the restarted CA fails the old bundle: %v", err)
	}
}

func TestJournalHoldsNoPlainKeys(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	e.at(DefaultCATTL / 2)
	rotate(t, c)
	raw := e.journal.get(t)
	var secrets [][]byte
	for _, s := range c.cur.Load().slots {
		der, err := x509.MarshalPKCS8PrivateKey(s.signer)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, der)
	}
	for i, der := range secrets {
		for _, enc := range [][]byte{der, []byte(base64.StdEncoding.EncodeToString(der))} {
			if bytes.Contains(raw, enc) {
				t.Errorf("journal holds CA key %d unsealed", i)
			}
		}
	}
	var doc journalDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Slots) != 2 || doc.TrustDomain != "example.org" || doc.BundleSequence != 2 {
		t.Errorf("journal: %d slots, trust domain %q, sequence %d", len(doc.Slots), doc.TrustDomain, doc.BundleSequence)
	}
	for _, rec := range doc.Slots {
		for _, sealed := range [][]byte{rec.SealedCAKey, rec.SealedJWTKey} {
			if _, err := x509.ParsePKCS8PrivateKey(sealed); err == nil {
				t.Errorf("slot %s: a sealed key parses as PKCS#8", rec.ID)
			}
		}
	}
}

func TestNewRefusesJournal(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(t *testing.T, e *env, doc *journalDoc) // nil doc edit: use cfg
		cfg     func(*Config)
		wantErr error
		wantMsg string
	}{
		{name: "wrong KEK", cfg: func(c *Config) { c.KEK = newTestKEK(t) }, wantErr: ErrUnseal},
		{name: "other trust domain", cfg: func(c *Config) { c.TrustDomain = spiffeid.RequireTrustDomainFromString("other.org") },
			wantErr: ErrJournal, wantMsg: `for trust domain "example.org"`},
		{name: "swapped sealed keys", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[0].SealedCAKey, d.Slots[0].SealedJWTKey = d.Slots[0].SealedJWTKey, d.Slots[0].SealedCAKey
		}, wantErr: ErrUnseal},
		{name: "keys moved to another slot", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[0].SealedCAKey, d.Slots[1].SealedCAKey = d.Slots[1].SealedCAKey, d.Slots[0].SealedCAKey
		}, wantErr: ErrUnseal},
		{name: "two active slots", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[1].Status = string(statusActive)
		}, wantErr: ErrJournal, wantMsg: "2 active"},
		{name: "unknown status", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[1].Status = "retired"
		}, wantErr: ErrJournal, wantMsg: "unknown status"},
		{name: "duplicate slot", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[1].ID = d.Slots[0].ID
		}, wantErr: ErrJournal, wantMsg: "duplicate"},
		{name: "certificate of another slot", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[0].CACert = d.Slots[1].CACert
		}, wantErr: ErrJournal, wantMsg: "does not belong"},
		{name: "JWT public key of another slot", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Slots[0].JWTPublicKey = d.Slots[1].JWTPublicKey
		}, wantErr: ErrJournal, wantMsg: "JWT key does not match"},
		{name: "unknown format", edit: func(t *testing.T, e *env, d *journalDoc) {
			d.Format = 99
		}, wantErr: ErrJournal, wantMsg: "format 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.newCA(t)
			e.at(DefaultCATTL / 2)
			rotate(t, c)
			if tt.edit != nil {
				var doc journalDoc
				if err := json.Unmarshal(e.journal.get(t), &doc); err != nil {
					t.Fatal(err)
				}
				tt.edit(t, e, &doc)
				data, _ := json.Marshal(doc)
				e.journal.set(journalBlob, data)
			}
			cfg := e.config()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := New(context.Background(), cfg)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(errString(err), tt.wantMsg) {
				t.Fatalf("New = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestNewCorruptJournal(t *testing.T) {
	for _, data := range []string{"", "{", "[]", `{"format":1}`} {
		t.Run(data, func(t *testing.T) {
			e := newEnv(t)
			e.journal.set(journalBlob, []byte(data))
			if _, err := New(context.Background(), e.config()); !errors.Is(err, ErrJournal) {
				t.Fatalf("New = %v, want ErrJournal", err)
			}
		})
	}
}

type failingJournal struct{ err error }

func (f failingJournal) GetBlob(context.Context, string) ([]byte, int64, error) { return nil, 0, f.err }
func (f failingJournal) PutBlob(context.Context, string, []byte, int64) (int64, error) {
	return 0, f.err
}

func TestNewJournalUnavailable(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Journal = failingJournal{errors.New("database is down")}
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("New = %v, want the store error", err)
	}
}
