package oauth_test

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/kith-dev/kith/sdk/oauth"
)

// A service calls another with tokens from its client secret; the
// transport obtains, caches and refreshes them.
func ExampleNewTokenSource() {
	ts, err := oauth.NewTokenSource(oauth.TokenSourceConfig{
		TokenURL:  "https://kith.example.org:8443/oauth2/token",
		ClientID:  os.Getenv("KITH_CLIENT_ID"),
		Secret:    os.Getenv("KITH_CLIENT_SECRET"),
		Scopes:    []string{"invoices:read"},
		Resources: []string{"spiffe://example.org/billing"},
	})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: ts.Transport(nil)}
	resp, err := client.Get("https://billing.example.org/invoices")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
}

// A resource server accepts only tokens issued for it, checks their
// binding, and reads the caller's identity and scopes from the claims.
func ExampleVerifier_Middleware() {
	v, err := oauth.NewVerifier(oauth.VerifierConfig{
		Issuer:   "https://kith.example.org:8443",
		Audience: "spiffe://example.org/billing",
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/invoices", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oauth.ClaimsFromContext(r.Context())
		if !c.HasScope("invoices:read") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "invoices for %s\n", c.Subject)
	})))
}
