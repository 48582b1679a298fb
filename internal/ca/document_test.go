package ca

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const docType = "kith-revocations+jwt"

func jwtBundleOf(c *CA) *jwtbundle.Bundle {
	return jwtbundle.FromJWTAuthorities(c.td, c.Bundle().JWTAuthorities())
}

func TestSignDocumentRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	payload := []byte(`{"revision":7,"entries":[]}`)
	jws, err := c.SignDocument(docType, payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyDocument(jws, docType, jwtBundleOf(c))
	if err != nil {
		t.Fatalf("VerifyDocument: %v", err)
	}
	if string(got) != string(payload) {
		t.Errorf("payload = %q, want %q", got, payload)
	}
}

func TestSignDocumentRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	for _, typ := range []string{"", "JWT"} {
		if _, err := c.SignDocument(typ, []byte("{}")); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("SignDocument(%q): %v, want ErrInvalidParams", typ, err)
		}
	}
	e.at(DefaultCATTL + 1) // the active key has expired and no rotation ran
	if _, err := c.SignDocument(docType, []byte("{}")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("SignDocument with an expired key: %v, want ErrUnavailable", err)
	}
}

func TestVerifyDocumentRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	other := newEnv(t).newCA(t)
	good, err := c.SignDocument(docType, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.SignDocument(docType, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	otherType, err := c.SignDocument("kith-other+jwt", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	svid, _, err := c.MintJWTSVID(context.Background(), JWTParams{SPIFFEID: spiffeid.RequireFromPath(e.td, "/w"), Audience: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "=") + "x." + parts[2]

	tests := []struct {
		name   string
		jws    string
		bundle *jwtbundle.Bundle
	}{
		{"empty", "", jwtBundleOf(c)},
		{"garbage", "a.b.c", jwtBundleOf(c)},
		{"signed by another CA", foreign, jwtBundleOf(c)},
		{"another type", otherType, jwtBundleOf(c)},
		{"a JWT-SVID", svid, jwtBundleOf(c)},
		{"tampered payload", tampered, jwtBundleOf(c)},
		{"no bundle", good, nil},
		{"empty bundle", good, jwtbundle.New(e.td)},
		{"too large", strings.Repeat("a", MaxDocumentSize+1), jwtBundleOf(c)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyDocument(tc.jws, docType, tc.bundle); !errors.Is(err, ErrDocument) {
				t.Errorf("VerifyDocument: %v, want ErrDocument", err)
			}
		})
	}
}

func TestDocumentSurvivesRotation(t *testing.T) {
	e := newEnv(t)
	c := e.newCA(t)
	before, err := c.SignDocument(docType, []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	// Rotate until the next key signs (prepared at 12h, active at 20h):
	// the old one stays in the bundle.
	for _, at := range []time.Duration{12 * time.Hour, 20 * time.Hour} {
		e.at(at)
		if err := c.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	after, err := c.SignDocument(docType, []byte("2"))
	if err != nil {
		t.Fatal(err)
	}
	b := jwtBundleOf(c)
	for _, jws := range []string{before, after} {
		if _, err := VerifyDocument(jws, docType, b); err != nil {
			t.Errorf("VerifyDocument after rotation: %v", err)
		}
	}
	if kid := func(s string) string { return strings.Split(s, ".")[0] }; kid(before) == kid(after) {
		t.Error("the document after rotation has the same header: was the new key used?")
	}
}

func FuzzVerifyDocument(f *testing.F) {
	e := newEnv(f)
	c := e.newCA(f)
	good, err := c.SignDocument(docType, []byte(`{"revision":1}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(good + "." + good)
	b := jwtBundleOf(c)
	f.Fuzz(func(t *testing.T, jws string) {
		payload, err := VerifyDocument(jws, docType, b)
		if err != nil {
			if !errors.Is(err, ErrDocument) {
				t.Fatalf("error %v does not wrap ErrDocument", err)
			}
			return
		}
		// Only a genuine signature verifies: re-serialising changes nothing.
		if jws != good && string(payload) != `{"revision":1}` {
			t.Fatalf("accepted a document the CA did not sign: %q", jws)
		}
	})
}
