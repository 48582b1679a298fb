package ca

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

func TestBundleJSON(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t, func(cfg *Config) { cfg.RefreshHint = 90 * time.Second })
	e.at(DefaultCATTL / 2)
	if err := c.Rotate(context.Background()); err != nil { // two slots in the bundle
		t.Fatal(err)
	}
	b := c.Bundle()
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	parsed, err := spiffebundle.Parse(e.td, data)
	if err != nil {
		t.Fatalf("spiffebundle.Parse: %v", err)
	}
	if !parsed.Equal(b) {
		t.Error("parsed bundle differs from the CA's bundle")
	}
	if seq, _ := parsed.SequenceNumber(); seq != 2 {
		t.Errorf("parsed sequence %d, want 2", seq)
	}
	if hint, _ := parsed.RefreshHint(); hint != 90*time.Second {
		t.Errorf("parsed refresh hint %v, want 90s", hint)
	}

	var raw struct {
		Keys []struct {
			Use string   `json:"use"`
			Kty string   `json:"kty"`
			Kid string   `json:"kid"`
			Crv string   `json:"crv"`
			X5c []string `json:"x5c"`
			D   string   `json:"d"`
		} `json:"keys"`
		Sequence    *uint64 `json:"spiffe_sequence"`
		RefreshHint *int64  `json:"spiffe_refresh_hint"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Sequence == nil || *raw.Sequence != 2 {
		t.Errorf("spiffe_sequence = %v, want 2", raw.Sequence)
	}
	if raw.RefreshHint == nil || *raw.RefreshHint != 90 {
		t.Errorf("spiffe_refresh_hint = %v, want 90", raw.RefreshHint)
	}
	var x509Certs [][]byte
	var kids []string
	for _, k := range raw.Keys {
		if k.D != "" {
			t.Errorf("key %q carries a private part", k.Kid)
		}
		switch k.Use {
		case "x509-svid":
			if len(k.X5c) != 1 {
				t.Errorf("x509-svid key has %d certificates, want 1", len(k.X5c))
				continue
			}
			der, _ := base64.StdEncoding.DecodeString(k.X5c[0])
			x509Certs = append(x509Certs, der)
		case "jwt-svid":
			if k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" {
				t.Errorf("jwt-svid key kty=%q crv=%q kid=%q; want EC P-256 with a kid", k.Kty, k.Crv, k.Kid)
			}
			kids = append(kids, k.Kid)
		default:
			t.Errorf("key with use %q", k.Use)
		}
	}
	var wantCerts [][]byte
	for _, r := range c.X509Authorities() {
		wantCerts = append(wantCerts, r.Raw)
	}
	if len(wantCerts) != 2 || !cmp.Equal(x509Certs, wantCerts) {
		t.Errorf("x509-svid keys do not hold the %d CA roots", len(wantCerts))
	}
	ids := slotIDs(c)
	wantKIDs := []string{ids[statusActive], ids[statusPrepared]}
	slices.Sort(wantKIDs)
	slices.Sort(kids)
	if diff := cmp.Diff(wantKIDs, kids); diff != "" {
		t.Errorf("jwt-svid kids (-want +got):\n%s", diff)
	}
}

func TestBundleIsACopy(t *testing.T) {
	c := newEnv(t).newCA(t)
	b := c.Bundle()
	b.SetX509Authorities(nil)
	b.SetJWTAuthorities(nil)
	b.SetSequenceNumber(99)
	roots := c.X509Authorities()
	roots[0] = nil
	got := c.Bundle()
	if len(got.X509Authorities()) != 1 || len(got.JWTAuthorities()) != 1 || seqOf(t, got) != 1 {
		t.Error("changing a returned bundle changed the CA's bundle")
	}
}

func TestChanged(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	ch := c.Changed()
	if err := c.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("Changed fired without a change")
	default:
	}
	e.at(DefaultCATTL / 2)
	if err := c.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire after a key was prepared")
	}
	if c.Changed() == ch {
		t.Error("Changed returned the fired channel again")
	}
}
