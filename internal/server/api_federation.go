package server

import (
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/federation"
)

func (s *Server) federationToAPI(st federation.Status) api.Federation {
	out := api.Federation{
		TrustDomain:       st.TrustDomain.String(),
		BundleEndpointURL: st.BundleEndpointURL,
		Profile:           string(st.Profile),
		Sequence:          st.Sequence,
		LastRefresh:       st.LastRefresh,
		NextRefresh:       st.NextRefresh,
		LastError:         st.LastError,
	}
	if !st.EndpointSPIFFEID.IsZero() {
		out.EndpointSPIFFEID = st.EndpointSPIFFEID.String()
	}
	if b, err := s.fed.GetBundleForTrustDomain(st.TrustDomain); err == nil {
		if raw, err := b.Marshal(); err == nil {
			out.Bundle = raw
		}
	}
	return out
}

func pathTrustDomain(r *http.Request) (spiffeid.TrustDomain, error) {
	td, err := spiffeid.TrustDomainFromString(r.PathValue("td"))
	if err != nil {
		return td, badRequest("trust_domain", "malformed trust domain: %v", err)
	}
	return td, nil
}

func (s *Server) listFederations(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	sts, err := s.fed.List(r.Context())
	if err != nil {
		return err
	}
	out := api.FederationList{Federations: make([]api.Federation, 0, len(sts))}
	for _, st := range sts {
		f := s.federationToAPI(st)
		f.Bundle = nil // the list stays small; show one to see its bundle
		out.Federations = append(out.Federations, f)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) addFederation(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	var in api.FederationCreate
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	td, err := spiffeid.TrustDomainFromString(in.TrustDomain)
	if err != nil {
		return badRequest("trust_domain", "malformed trust domain: %v", err)
	}
	rel := federation.Relationship{TrustDomain: td, BundleEndpointURL: in.BundleEndpointURL, Profile: federation.Profile(in.Profile)}
	if in.EndpointSPIFFEID != "" {
		if rel.EndpointSPIFFEID, err = spiffeid.FromString(in.EndpointSPIFFEID); err != nil {
			return badRequest("endpoint_spiffe_id", "malformed SPIFFE ID: %v", err)
		}
	}
	st, err := s.fed.Add(r.Context(), actor, rel, in.Bootstrap)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/federations/"+td.String())
	return writeJSON(w, http.StatusCreated, s.federationToAPI(st))
}

func (s *Server) getFederation(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	td, err := pathTrustDomain(r)
	if err != nil {
		return err
	}
	sts, err := s.fed.List(r.Context())
	if err != nil {
		return err
	}
	for _, st := range sts {
		if st.TrustDomain == td {
			return writeJSON(w, http.StatusOK, s.federationToAPI(st))
		}
	}
	return federation.ErrNotFound
}

func (s *Server) removeFederation(w http.ResponseWriter, r *http.Request, actor audit.Actor) error {
	td, err := pathTrustDomain(r)
	if err != nil {
		return err
	}
	if err := s.fed.Remove(r.Context(), actor, td); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) refreshFederation(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	td, err := pathTrustDomain(r)
	if err != nil {
		return err
	}
	st, err := s.fed.Refresh(r.Context(), td)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.federationToAPI(st))
}

func (s *Server) getBundle(w http.ResponseWriter, r *http.Request, _ audit.Actor) error {
	raw, err := s.ca.Bundle().Marshal()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(raw)
	return err
}
