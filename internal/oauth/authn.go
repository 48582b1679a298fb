package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/registry"
)

// Client assertion types (RFC 7523 §2.2, and the SPIFFE profile of it).
const (
	assertionJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	assertionJWTSPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
)

// credentials are what a request presents to authenticate its client.
type credentials struct {
	clientID      string // the client_id parameter
	basicID       string
	basicSecret   string
	basic         bool // an Authorization: Basic header was sent
	postSecret    string
	assertionType string
	assertion     string
}

// readCredentials collects the client credentials of a request. It refuses
// a request that uses more than one method (RFC 6749 §2.3) or whose
// client_id contradicts its Basic credentials.
func readCredentials(r *http.Request, form url.Values) (credentials, error) {
	c := credentials{
		clientID:      form.Get("client_id"),
		postSecret:    form.Get("client_secret"),
		assertionType: form.Get("client_assertion_type"),
		assertion:     form.Get("client_assertion"),
	}
	var err error
	if c.basicID, c.basicSecret, c.basic, err = basicCredentials(r); err != nil {
		if pe := (*protocolError)(nil); errors.As(err, &pe) {
			pe.basic = c.basic
		}
		return c, err
	}
	n := 0
	for _, used := range []bool{c.basic, c.postSecret != "", c.assertion != "" || c.assertionType != ""} {
		if used {
			n++
		}
	}
	switch {
	case n > 1:
		return c, invalidRequest("use exactly one client authentication method")
	case c.basic && c.clientID != "" && c.clientID != c.basicID:
		return c, invalidRequest("client_id differs from the Basic credentials")
	case (c.assertion == "") != (c.assertionType == ""):
		return c, invalidRequest("client_assertion and client_assertion_type go together")
	case c.postSecret != "" && c.clientID == "":
		return c, invalidRequest("client_secret needs client_id")
	}
	return c, nil
}

// claimOf is the client a request names before its credentials are
// checked, in the form the ledger may hold (see recordedClaim): the Basic
// user or the client_id, else the assertion's subject, else the SPIFFE
// ID of the verified client certificate. It keys the brute-force guard.
func claimOf(c credentials, peer *peerCert, a *assertion) string {
	switch {
	case c.basic:
		return recordedClaim(c.basicID)
	case c.clientID != "":
		return recordedClaim(c.clientID)
	case a != nil:
		return recordedClaim(a.claims.Subject)
	case peer != nil:
		return peer.ID.String()
	}
	return ""
}

// authResult is an authenticated client.
type authResult struct {
	client *clientRecord
	entry  registry.Entry
	method AuthMethod
	credID string     // which credential: a secret ID, a kid, a certificate serial
	peer   *peerCert  // the verified TLS client certificate, if any
	once   *oneTimeID // the assertion's jti, not yet remembered (useOnce)
	// gen is the client cache's generation before the client and its
	// entry were read: if it moved by the time a token is issued, the
	// entry is read again (see issue).
	gen uint64
}

// authenticate identifies and authenticates the client of a request at
// endpoint (a path such as PathToken). peer is the verified client
// certificate, or nil. Every failure is an invalid_client error whose
// cause, for the ledger, says what failed; claimed is the client the
// request named, if any, for the ledger too, in a form it may hold: a
// client ID, a proven SPIFFE ID, or a fingerprint (see recordedClaim).
// a is the client assertion parsed (without verification), or aErr why
// it did not parse.
func (s *Service) authenticate(ctx context.Context, c credentials, peer *peerCert, a *assertion, aErr error, endpoint string, now time.Time) (res *authResult, claimed string, err error) {
	defer func() {
		if pe := (*protocolError)(nil); errors.As(err, &pe) {
			pe.basic = c.basic
		}
		if res != nil && res.peer == nil {
			res.peer = peer // a verified certificate binds the token whatever the method
		}
	}()
	switch {
	case c.basic:
		res, err = s.authSecret(ctx, c.basicID, c.basicSecret, AuthSecretBasic, now)
		return res, recordedClaim(c.basicID), err
	case c.postSecret != "":
		res, err = s.authSecret(ctx, c.clientID, c.postSecret, AuthSecretPost, now)
		return res, recordedClaim(c.clientID), err
	case c.assertion != "":
		if c.assertionType != assertionJWTBearer && c.assertionType != assertionJWTSPIFFE {
			return nil, recordedClaim(c.clientID), invalidClient(fmt.Errorf("unsupported client_assertion_type %q", truncate(c.assertionType)))
		}
		return s.authAssertion(ctx, c.clientID, a, aErr, endpoint, now)
	case peer != nil:
		res, err = s.authTLS(ctx, c.clientID, peer)
		// The certificate verified: its SPIFFE ID is proven.
		return res, firstNonEmpty(recordedClaim(c.clientID), peer.ID.String()), err
	}
	return nil, recordedClaim(c.clientID), invalidClient(errors.New("no client credentials"))
}

// authSecret checks a client secret. A malformed secret is refused before
// any lookup; a well-formed one costs a SHA-256 and a constant-time
// comparison with each live secret of the client.
func (s *Service) authSecret(ctx context.Context, id, secret string, method AuthMethod, now time.Time) (*authResult, error) {
	sec, err := ParseSecret(secret)
	if err != nil {
		return nil, invalidClient(errors.New("malformed client secret"))
	}
	cl, err := s.clients.client(ctx, ClientID(id))
	if err != nil {
		return nil, lookupFailed(err)
	}
	if cl.AuthMethod != method {
		return nil, invalidClient(fmt.Errorf("client is registered for %s, not %s", cl.AuthMethod, method))
	}
	sum := sec.Hash()
	match := -1
	for i, h := range cl.hashes {
		live := h.expires.IsZero() || now.Before(h.expires)
		if subtle.ConstantTimeCompare(sum[:], h.hash[:]) == 1 && live {
			match = i
		}
	}
	if match < 0 {
		return nil, invalidClient(errors.New("wrong or expired client secret"))
	}
	return s.authorize(ctx, cl, method, cl.Secrets[match].ID, nil)
}

// authTLS identifies a tls_client_auth client by the SPIFFE ID of its
// verified X509-SVID.
func (s *Service) authTLS(ctx context.Context, id string, peer *peerCert) (*authResult, error) {
	cl, err := s.clientForSPIFFEID(ctx, id, peer.ID, AuthTLSClient)
	if err != nil {
		return nil, err
	}
	return s.authorize(ctx, cl, AuthTLSClient, peer.Serial, peer)
}

// clientForSPIFFEID finds the client with method m bound to an entry of
// SPIFFE ID sid: the one named id, or, when id is empty, the only one.
func (s *Service) clientForSPIFFEID(ctx context.Context, id string, sid spiffeid.ID, m AuthMethod) (*clientRecord, error) {
	if id != "" {
		cl, err := s.clients.client(ctx, ClientID(id))
		if err != nil {
			return nil, lookupFailed(err)
		}
		if cl.AuthMethod != m {
			return nil, invalidClient(fmt.Errorf("client is registered for %s, not %s", cl.AuthMethod, m))
		}
		e, err := s.clients.entry(ctx, cl.EntryID)
		if err != nil {
			return nil, lookupFailed(err)
		}
		if e.SPIFFEID != sid {
			return nil, invalidClient(fmt.Errorf("the client's entry is %s, not %s", e.SPIFFEID, sid))
		}
		return cl, nil
	}
	all, err := s.clients.clientsOf(ctx, sid)
	if err != nil {
		return nil, err
	}
	var found *clientRecord
	for _, cl := range all {
		if cl.AuthMethod != m {
			continue
		}
		if found != nil {
			return nil, invalidClient(fmt.Errorf("several %s clients act for %s; send client_id", m, sid))
		}
		found = cl
	}
	if found == nil {
		return nil, invalidClient(fmt.Errorf("no %s client acts for %s", m, sid))
	}
	return found, nil
}

// authorize completes an authentication: the client's entry must exist
// and be active.
func (s *Service) authorize(ctx context.Context, cl *clientRecord, m AuthMethod, credID string, peer *peerCert) (*authResult, error) {
	e, err := s.clients.entry(ctx, cl.EntryID)
	if err != nil {
		return nil, lookupFailed(err)
	}
	if e.Status != registry.StatusActive {
		return nil, invalidClient(fmt.Errorf("entry %s is %s", e.ID, e.Status))
	}
	return &authResult{client: cl, entry: e, method: m, credID: credID, peer: peer}, nil
}

// lookupFailed turns a failed client or entry lookup into invalid_client
// for a missing record, and passes other (internal) errors through.
func lookupFailed(err error) error {
	if errors.Is(err, ErrNotFound) || errors.Is(err, registry.ErrNotFound) {
		return invalidClient(err)
	}
	return err
}

// acceptedAudience reports whether a client assertion's aud value names
// this server for a request at endpoint: the issuer or another base URL,
// the token endpoint or the endpoint itself under one of them.
func (s *Service) acceptedAudience(aud string, endpoint string) bool {
	for _, base := range s.baseURLs {
		if rest, ok := strings.CutPrefix(aud, base); ok && (rest == "" || rest == PathToken || rest == endpoint) {
			return true
		}
	}
	return false
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
