package authn_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/authn"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/revocation"
)

func TestValidateJWTSVID(t *testing.T) {
	c := newCA(t)
	id := spiffeid.RequireFromPath(td, "/web")
	tok, exp, err := c.MintJWTSVID(t.Context(), ca.JWTParams{SPIFFEID: id, Audience: []string{"api"}, Claims: map[string]any{"jti": "t-1"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bundles := jwtbundle.NewSet(c.Bundle().JWTBundle())
	foreign := jwtbundle.NewSet(newCA(t).Bundle().JWTBundle())
	revokedAt := func(k revocation.Kind, v string, at time.Time) *revocation.Set {
		s := newSet(t)
		s.Apply(revocation.Entry{Kind: k, Value: v, RevokedAt: at, Revision: 1})
		return s
	}
	tests := []struct {
		name     string
		token    string
		audience string
		bundles  jwtbundle.Source
		revoked  authn.RevocationChecker
		at       time.Time
		want     error
	}{
		{"valid", tok, "api", bundles, newSet(t), now, nil},
		{"valid without revocation set", tok, "api", bundles, nil, now, nil},
		{"wrong audience", tok, "other", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"expired", tok, "api", bundles, nil, exp.Add(2 * time.Minute), authn.ErrInvalidJWTSVID},
		{"unknown key", tok, "api", foreign, nil, now, authn.ErrInvalidJWTSVID},
		{"garbage", "not.a.jwt", "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"oversized", strings.Repeat("a", authn.MaxJWTSVIDSize+1), "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"tampered", tok[:len(tok)-4] + "AAAA", "api", bundles, nil, now, authn.ErrInvalidJWTSVID},
		{"subject revoked after issue", tok, "api", bundles, revokedAt(revocation.KindSPIFFEID, id.String(), now.Add(time.Second)), now, authn.ErrRevoked},
		{"subject revoked before issue", tok, "api", bundles, revokedAt(revocation.KindSPIFFEID, id.String(), now.Add(-time.Hour)), now, nil},
		{"jti revoked", tok, "api", bundles, revokedAt(revocation.KindJTI, "t-1", now.Add(time.Second)), now, authn.ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authn.ValidateJWTSVID(tt.token, tt.audience, tt.bundles, tt.revoked, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ValidateJWTSVID = %v, want %v", err, tt.want)
			}
			if err == nil && (got.ID != id || got.Claims["jti"] != "t-1" || got.IssuedAt.IsZero()) {
				t.Errorf("ValidateJWTSVID = %+v, want subject %s with its claims", got, id)
			}
		})
	}
}
