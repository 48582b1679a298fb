package trust

import "testing"

// TestIDLike: identifiers in paths fold into {id}; names do not.
func TestIDLike(t *testing.T) {
	for seg, want := range map[string]bool{
		"42": true, "0f8fad5b-d9cb-469f-a165-70867728950e": true, "2026-12-08": true, "deadbeef01": true,
		"cus_8f3k2ab": true, "user1234": true, "x509": false, "alice@example.com": true, "eyJhbGciOiJIUzI1NiJ9": true,
		"v1": false, "v2beta1": false, "oauth2": false, "orders": false, "invoices": false, "{id}": false,
		"": false, "sha256": false, "md5": false, "http2": false, "deadbeef": false,
	} {
		if got := idLike(seg); got != want {
			t.Errorf("idLike(%q) = %v, want %v", seg, got, want)
		}
	}
	if got := normalizePath("/v1/customers/cus_8f3k2ab/invoices/42?expand=1"); got != "/v1/customers/{id}/invoices/{id}" {
		t.Errorf("normalizePath = %q", got)
	}
	c1 := Call{Target: "t", Method: "GET", Path: "/v1/customers/cus_8f3k2ab/invoices/42"}
	c2 := Call{Target: "t", Method: "GET", Route: "/v1/customers/{id}/invoices/{id}"}
	if routeHash(1, &c1) != routeHash(1, &c2) {
		t.Error("a path and its template hash differently")
	}
}
