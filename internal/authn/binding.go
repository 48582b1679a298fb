package authn

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Presentation is how a token was presented: over which TLS client
// certificate, and with which DPoP proof for which request.
type Presentation struct {
	ClientCert *x509.Certificate
	DPoP       bool   // sent with the DPoP scheme
	DPoPProof  string // the DPoP header
	Method     string
	URL        string
}

// Presented returns the access token of request r and how it was
// presented: the Authorization scheme (Bearer or DPoP), the DPoP proof
// (when r has exactly one DPoP header), method and URL, and the TLS client
// certificate. urlOf returns the URL r was sent to, for DPoP's htu; nil
// means https://<Host><path>. It returns [ErrNoToken] when r carries no
// token with either scheme.
func Presented(r *http.Request, urlOf func(*http.Request) string) (string, Presentation, error) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || tok == "" {
		return "", Presentation{}, ErrNoToken
	}
	var p Presentation
	switch {
	case strings.EqualFold(scheme, "Bearer"):
	case strings.EqualFold(scheme, "DPoP"):
		p.DPoP = true
		if hs := r.Header.Values("DPoP"); len(hs) == 1 {
			p.DPoPProof = hs[0]
		}
		p.Method = r.Method
		if urlOf != nil {
			p.URL = urlOf(r)
		} else {
			p.URL = "https://" + r.Host + r.URL.EscapedPath()
		}
	default:
		return "", Presentation{}, ErrNoToken
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		p.ClientCert = r.TLS.PeerCertificates[0]
	}
	return strings.TrimSpace(tok), p, nil
}

// CheckBinding checks that token, whose claims c [TokenVerifier.Parse]
// returned, is presented as its binding demands (RFC 8705 §3, RFC 9449
// §7): over the client certificate of its cnf.x5t#S256, and, for a token
// bound to a DPoP key (cnf.jkt), with the DPoP scheme and a proof by that
// key for this request and this token, issued within DPoPWindow of now and
// not seen before (it is then recorded in the replay store). A token that
// is not DPoP-bound must not come with the DPoP scheme. It lets a caller
// that remembers verified claims skip the token's signature but never its
// proof of possession.
//
// It returns an error wrapping [ErrBinding].
func (v *TokenVerifier) CheckBinding(c *Claims, token string, p Presentation, now time.Time) error {
	if c.CertThumbprint != "" {
		if p.ClientCert == nil {
			return fmt.Errorf("%w: the token is bound to a client certificate and none was presented", ErrBinding)
		}
		if !digestIs(c.CertThumbprint, p.ClientCert.Raw) {
			return fmt.Errorf("%w: the token is bound to another client certificate", ErrBinding)
		}
	}
	if c.DPoPThumbprint == "" {
		if p.DPoP {
			return fmt.Errorf("%w: the DPoP scheme with a token that is not DPoP-bound", ErrBinding)
		}
		return nil
	}
	if !p.DPoP || p.DPoPProof == "" {
		return fmt.Errorf("%w: a DPoP-bound token needs the DPoP scheme and one DPoP proof", ErrBinding)
	}
	proof, err := ParseDPoPProof(p.DPoPProof)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBinding, err)
	}
	if proof.JKT != c.DPoPThumbprint {
		return fmt.Errorf("%w: the DPoP proof is signed by another key", ErrBinding)
	}
	if err := proof.Check(DPoPRequest{Method: p.Method, URLs: []string{p.URL}, AccessToken: token}, now, v.cfg.DPoPWindow); err != nil {
		return fmt.Errorf("%w: %w", ErrBinding, err)
	}
	if err := proof.FirstUse(v.cfg.Replay, now, v.cfg.DPoPWindow); err != nil {
		return fmt.Errorf("%w: %w", ErrBinding, err)
	}
	return nil
}
