package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/registry"
)

// svidSubject parses the SPIFFE ID an admin asks an SVID for and refuses it
// if a registered entry with that ID is not active (disabled or
// quarantined entries get no credentials).
func (s *Server) svidSubject(r *http.Request, raw string) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(raw)
	if err != nil {
		return spiffeid.ID{}, badRequest("spiffe_id", "malformed SPIFFE ID: %v", err)
	}
	if id.TrustDomain() != s.td {
		return spiffeid.ID{}, badRequest("spiffe_id", "%s is not in trust domain %s", id, s.td)
	}
	if id.Path() == "" {
		return spiffeid.ID{}, badRequest("spiffe_id", "an SVID's SPIFFE ID needs a path")
	}
	if strings.HasPrefix(id.Path(), "/kith/") {
		return spiffeid.ID{}, badRequest("spiffe_id", "paths under /kith/ are reserved for Kith's own components")
	}
	entries, err := s.registry.FindBySPIFFEID(r.Context(), id)
	if err != nil {
		return spiffeid.ID{}, err
	}
	for _, e := range entries {
		if e.Status != registry.StatusActive {
			return spiffeid.ID{}, &problemError{status: http.StatusForbidden, title: "Forbidden",
				detail: fmt.Sprintf("entry %s for %s is %s", e.ID, id, e.Status)}
		}
	}
	return id, nil
}

func (s *Server) mintX509SVID(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.X509SVIDMint
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id, err := s.svidSubject(r, in.SPIFFEID)
	if err != nil {
		return s.auditMint(r, actor, "svid.x509.minted", in.SPIFFEID, nil, err)
	}
	svid, err := s.ca.MintX509SVID(r.Context(), ca.X509Params{CSR: in.CSR, SPIFFEID: id, TTL: time.Duration(in.TTL), DNSNames: in.DNSNames})
	if err != nil {
		return s.auditMint(r, actor, "svid.x509.minted", in.SPIFFEID, nil, mintError(err))
	}
	s.metrics.svidsMinted.WithLabelValues("x509").Inc()
	out := api.X509SVID{SPIFFEID: id.String(), SerialNumber: svid.SerialNumber.Text(16), ExpiresAt: svid.ExpiresAt}
	for _, c := range svid.Certificates {
		out.Certificates = append(out.Certificates, c.Raw)
	}
	if err := s.auditMint(r, actor, "svid.x509.minted", id.String(), map[string]string{
		"serial": out.SerialNumber, "expires_at": svid.ExpiresAt.UTC().Format(time.RFC3339),
	}, nil); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) mintJWTSVID(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.JWTSVIDMint
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	id, err := s.svidSubject(r, in.SPIFFEID)
	if err != nil {
		return s.auditMint(r, actor, audit.TypeSVIDJWTMinted, in.SPIFFEID, nil, err)
	}
	if len(in.Audience) == 0 {
		return badRequest("audience", "a JWT-SVID needs at least one audience")
	}
	tok, exp, err := s.ca.MintJWTSVID(r.Context(), ca.JWTParams{SPIFFEID: id, Audience: in.Audience, TTL: time.Duration(in.TTL)})
	if err != nil {
		return s.auditMint(r, actor, audit.TypeSVIDJWTMinted, in.SPIFFEID, nil, mintError(err))
	}
	s.metrics.svidsMinted.WithLabelValues("jwt").Inc()
	if err := s.auditMint(r, actor, audit.TypeSVIDJWTMinted, id.String(), map[string]string{
		"audience": strings.Join(in.Audience, " "), "expires_at": exp.UTC().Format(time.RFC3339),
		"ttl_seconds": strconv.Itoa(int(exp.Sub(s.clock()).Seconds())),
	}, nil); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.JWTSVID{SPIFFEID: id.String(), Token: tok, ExpiresAt: exp})
}

// mintError turns a CA refusal caused by the request into a 400 (with the
// CA's description of what is wrong with the request) and leaves other
// failures to writeError.
func mintError(err error) error {
	switch {
	case errors.Is(err, ca.ErrInvalidCSR), errors.Is(err, ca.ErrUnsupportedKey):
		return badRequest("csr", "%v", err)
	case errors.Is(err, ca.ErrInvalidSPIFFEID):
		return badRequest("spiffe_id", "%v", err)
	case errors.Is(err, ca.ErrInvalidParams):
		return badRequest("", "%v", err)
	}
	return err
}

// auditMint records a minting and returns cause (or the ledger's error when
// a success could not be recorded).
func (s *Server) auditMint(r *http.Request, actor audit.Actor, typ, target string, details map[string]string, cause error) error {
	ev := audit.Event{Type: typ, Actor: actor, Target: target, Action: "mint",
		Outcome: audit.OutcomeSuccess, RequestID: requestID(r.Context()), Details: details}
	if cause != nil {
		ev.Outcome = audit.OutcomeFailure
		ev.Reason = "refused"
		var pe *problemError
		if errors.As(cause, &pe) {
			ev.Reason = pe.detail
		}
	}
	if _, err := s.ledger.Record(r.Context(), ev); err != nil && cause == nil {
		return err
	}
	return cause
}
