package main

import (
	"encoding/json"
	"testing"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient/adminclienttest"
)

// wantFederation returns a check that the federation td was stored as
// want; a non-nil bundleCheck checks the bootstrap bundle instead of
// comparing it.
func wantFederation(want api.FederationCreate, bundleCheck func(*testing.T, []byte)) func(*testing.T, *fakeAdmin, result, string) {
	return func(t *testing.T, f *fakeAdmin, _ result, _ string) {
		t.Helper()
		f.mu.Lock()
		got, ok := f.federations[want.TrustDomain]
		f.mu.Unlock()
		if !ok {
			t.Fatalf("federation %s not stored", want.TrustDomain)
		}
		if bundleCheck != nil {
			bundleCheck(t, got.Bootstrap)
			got.Bootstrap, want.Bootstrap = nil, nil
		}
		if string(got.Bootstrap) != string(want.Bootstrap) || got.TrustDomain != want.TrustDomain ||
			got.BundleEndpointURL != want.BundleEndpointURL || got.Profile != want.Profile || got.EndpointSPIFFEID != want.EndpointSPIFFEID {
			t.Errorf("stored %+v, want %+v", got, want)
		}
	}
}

func TestFederation(t *testing.T) {
	partner := adminclienttest.NewCA(t, "partner.example")
	partnerJSON := partner.BundleJSON(t)
	addPartner := func(_ *testing.T, f *fakeAdmin, _ string) {
		f.federations["partner.example"] = api.FederationCreate{TrustDomain: "partner.example",
			BundleEndpointURL: "https://partner.example:8443", Profile: "https_spiffe",
			EndpointSPIFFEID: "spiffe://partner.example/kith/server", Bootstrap: partnerJSON}
	}
	writeBundles := func(t *testing.T, _ *fakeAdmin, dir string) {
		mustWrite(t, dir+"/partner.pem", partner.BundlePEM(), 0o644)
		mustWrite(t, dir+"/partner.json", partnerJSON, 0o644)
		mustWrite(t, dir+"/junk", []byte("junk"), 0o644)
	}
	hasPartnerCA := func(t *testing.T, b []byte) {
		sb, err := spiffebundle.Parse(spiffeid.RequireTrustDomainFromString("partner.example"), b)
		if err != nil || !sb.HasX509Authority(partner.Cert) {
			t.Errorf("bootstrap bundle lacks the partner CA (err %v): %s", err, b)
		}
	}
	runCases(t, []cliCase{
		{
			name:  "add https_spiffe with PEM bootstrap",
			setup: writeBundles,
			args: []string{"federation", "add", "partner.example", "--bundle-endpoint", "https://partner.example:8443",
				"--endpoint-spiffe-id", "spiffe://partner.example/kith/server", "--bootstrap-bundle", "$DIR/partner.pem"},
			code:   0,
			stdout: []string{"Trust domain:", "partner.example", "Profile:", "https_spiffe", "Bundle:", "1 X.509 authorities"},
			check: wantFederation(api.FederationCreate{TrustDomain: "partner.example", BundleEndpointURL: "https://partner.example:8443",
				Profile: "https_spiffe", EndpointSPIFFEID: "spiffe://partner.example/kith/server"}, hasPartnerCA),
		},
		{
			name:  "add with JSON bootstrap, flags after the domain",
			setup: writeBundles,
			args: []string{"federation", "add", "--bundle-endpoint", "https://partner.example:8443", "partner.example",
				"--endpoint-spiffe-id", "spiffe://partner.example/kith/server", "--bootstrap-bundle", "$DIR/partner.json", "-o", "json"},
			code: 0,
			check: func(t *testing.T, f *fakeAdmin, r result, dir string) {
				wantFederation(api.FederationCreate{TrustDomain: "partner.example", BundleEndpointURL: "https://partner.example:8443",
					Profile: "https_spiffe", EndpointSPIFFEID: "spiffe://partner.example/kith/server", Bootstrap: partnerJSON}, nil)(t, f, r, dir)
				jsonOut(func(t *testing.T, fed api.Federation) {
					if fed.TrustDomain != "partner.example" {
						t.Errorf("federation = %+v", fed)
					}
				})(t, f, r, dir)
			},
		},
		{
			name: "add https_web",
			args: []string{"federation", "add", "web.example", "--bundle-endpoint", "https://web.example/bundle", "--profile", "https_web"},
			code: 0,
			check: wantFederation(api.FederationCreate{TrustDomain: "web.example", BundleEndpointURL: "https://web.example/bundle",
				Profile: "https_web"}, nil),
		},
		{
			name:   "add https_spiffe without endpoint ID",
			args:   []string{"federation", "add", "partner.example", "--bundle-endpoint", "https://partner.example:8443"},
			code:   2,
			stderr: []string{"--endpoint-spiffe-id is required with --profile https_spiffe"},
			check:  noRequests,
		},
		{
			name:   "add without endpoint",
			args:   []string{"federation", "add", "partner.example"},
			code:   2,
			stderr: []string{"--bundle-endpoint is required"},
		},
		{
			name:   "add with unknown profile",
			args:   []string{"federation", "add", "p.example", "--bundle-endpoint", "https://p", "--profile", "http"},
			code:   2,
			stderr: []string{`--profile must be https_spiffe or https_web, not "http"`},
		},
		{
			name:  "add with unreadable bootstrap",
			setup: writeBundles,
			args: []string{"federation", "add", "partner.example", "--bundle-endpoint", "https://p",
				"--endpoint-spiffe-id", "spiffe://partner.example/kith/server", "--bootstrap-bundle", "$DIR/junk"},
			code:   1,
			stderr: []string{"is neither a SPIFFE bundle (JSON) nor PEM certificates"},
			check:  noRequests,
		},
		{
			name:   "list",
			setup:  addPartner,
			args:   []string{"federation", "list"},
			code:   0,
			stdout: []string{"TRUST DOMAIN", "partner.example", "https_spiffe", "https://partner.example:8443", "2030-01-02T03:04:05Z"},
		},
		{
			name:  "list json",
			setup: addPartner,
			args:  []string{"federation", "list", "-o", "json"},
			code:  0,
			check: jsonOut(func(t *testing.T, l api.FederationList) {
				if len(l.Federations) != 1 || !json.Valid(l.Federations[0].Bundle) {
					t.Errorf("list = %+v", l)
				}
			}),
		},
		{
			name:   "show",
			setup:  addPartner,
			args:   []string{"federation", "show", "partner.example"},
			code:   0,
			stdout: []string{"Endpoint SPIFFE ID:  spiffe://partner.example/kith/server", "Sequence:            3", "1 X.509 authorities, 0 JWT authorities"},
		},
		{
			name:   "show missing",
			args:   []string{"federation", "show", "nope.example"},
			code:   1,
			stderr: []string{"kith: get federation nope.example: 404 Not Found"},
		},
		{
			name:   "refresh",
			setup:  addPartner,
			args:   []string{"federation", "refresh", "partner.example"},
			code:   0,
			stdout: []string{"Last refresh:"},
			check:  wantRequests("POST /v1/federations/partner.example/refresh"),
		},
		{
			name:   "remove",
			setup:  addPartner,
			args:   []string{"federation", "remove", "partner.example"},
			code:   0,
			stdout: []string{"Removed federation with partner.example."},
			check:  wantRequests("DELETE /v1/federations/partner.example"),
		},
	})
}
