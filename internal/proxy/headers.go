package proxy

import (
	"net/http"
	"strings"

	"github.com/kith-dev/kith/internal/enforce"
)

// Headers the inbound proxy passes to the upstream. The upstream may trust
// them because the proxy removes every Kith-* header a request arrives
// with before setting them.
const (
	// HeaderCallerSPIFFEID is the caller's verified SPIFFE ID.
	HeaderCallerSPIFFEID = "Kith-Caller-Spiffe-Id"
	// HeaderCallerClientID is the OAuth client of the caller's token.
	HeaderCallerClientID = "Kith-Caller-Client-Id"
	// HeaderDecision is the policy action that let the call through.
	HeaderDecision = "Kith-Decision"
	// HeaderScopes, after a restrict decision, lists the only scopes the
	// call may use, space-separated.
	HeaderScopes = "Kith-Scopes"
)

// stripKith removes every header whose name starts with "Kith-".
func stripKith(h http.Header) {
	for k := range h {
		if len(k) >= 5 && strings.EqualFold(k[:5], "kith-") {
			delete(h, k)
		}
	}
}

// setCaller sets the verified caller headers of res on h.
func setCaller(h http.Header, res *enforce.Result) {
	if !res.Caller.SPIFFEID.IsZero() {
		h.Set(HeaderCallerSPIFFEID, res.Caller.SPIFFEID.String())
	}
	if res.Caller.ClientID != "" {
		h.Set(HeaderCallerClientID, res.Caller.ClientID)
	}
	h.Set(HeaderDecision, res.Action())
	if res.Caller.Restricted {
		h.Set(HeaderScopes, strings.Join(res.Caller.Scopes, " "))
	}
}
