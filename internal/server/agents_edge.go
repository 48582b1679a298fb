package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/nodes"
)

// agentHandler checks the protocol version, runs h and maps its error.
func (s *Server) agentHandler(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := checkProtocol(r)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, nodesError(err))
		}
	}
}

// agentAuthed is agentHandler for routes that need the agent's SVID: the
// TLS client certificate must authenticate a known, unevicted agent.
func (s *Server) agentAuthed(h func(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error) http.HandlerFunc {
	return s.agentHandler(func(w http.ResponseWriter, r *http.Request) error {
		if r.TLS == nil {
			return fmt.Errorf("%w: not a TLS connection", nodes.ErrUnauthenticated)
		}
		c, err := s.agents.nodes.Authenticate(r.Context(), r.TLS.PeerCertificates, r.RemoteAddr)
		if err != nil {
			return err
		}
		return h(w, r, c)
	})
}

func checkProtocol(r *http.Request) error {
	if v := r.Header.Get(agentproto.ProtocolHeader); v != agentproto.ProtocolVersion {
		return badRequest("", "this server speaks agent protocol %q; send it in the %s header (got %q)",
			agentproto.ProtocolVersion, agentproto.ProtocolHeader, v)
	}
	return nil
}

// maxAgentBody bounds agent request bodies: a full batch of CSRs fits.
const maxAgentBody = 4 << 20

// readAgentBody reads the request body, refusing one over maxAgentBody.
func readAgentBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAgentBody+1))
	if err != nil {
		return nil, badRequest("", "request body: %v", err)
	}
	if len(b) > maxAgentBody {
		return nil, &problemError{status: http.StatusRequestEntityTooLarge, title: "Request Entity Too Large", detail: "request body over 4 MiB"}
	}
	return b, nil
}

// decodeAgentJSON decodes one JSON object from body into v. Unknown fields
// are ignored, so that newer agents may add some; trailing data is not.
func decodeAgentJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badRequest("", "request body: %v", err)
	}
	if dec.More() {
		return badRequest("", "request body: trailing data after the JSON object")
	}
	return nil
}

// parseAttest parses and checks the untrusted body of an attestation.
func parseAttest(body []byte) (*agentproto.AttestRequest, error) {
	var in agentproto.AttestRequest
	if err := decodeAgentJSON(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.JoinToken == "":
		return nil, badRequest("join_token", "join_token is required")
	case len(in.JoinToken) > 256:
		return nil, badRequest("join_token", "join_token is too long")
	case len(in.CSR) == 0:
		return nil, badRequest("csr", "csr is required")
	case len(in.CSR) > ca.MaxCSRSize:
		return nil, badRequest("csr", "csr is over %d bytes", ca.MaxCSRSize)
	}
	return &in, nil
}

// agentAttest is POST /agent/v1/attest: a join token and a CSR for the
// agent's identity. It needs no client certificate.
func (s *Server) agentAttest(w http.ResponseWriter, r *http.Request) error {
	body, err := readAgentBody(r)
	if err != nil {
		return err
	}
	in, err := parseAttest(body)
	if err != nil {
		return err
	}
	att, err := s.agents.nodes.Attest(r.Context(), nodes.AttestRequest{JoinToken: in.JoinToken, CSR: in.CSR, RemoteAddr: r.RemoteAddr})
	if err != nil {
		return err
	}
	bundle, err := s.ca.Bundle().Marshal()
	if err != nil {
		return fmt.Errorf("marshal bundle: %w", err)
	}
	return writeJSON(w, http.StatusOK, agentproto.AttestResponse{
		AgentID: att.Agent.ID, SPIFFEID: att.Agent.SPIFFEID.String(), SVID: chainDER(att.SVID), Bundle: bundle,
	})
}

// agentRenew is POST /agent/v1/renew: a new SVID for the agent itself.
func (s *Server) agentRenew(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	var in agentproto.RenewRequest
	if err := decodeAgentBody(r, &in); err != nil {
		return err
	}
	svid, err := s.agents.nodes.Renew(r.Context(), c, in.CSR)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, agentproto.RenewResponse{SVID: chainDER(svid)})
}

// agentX509SVIDs is POST /agent/v1/svids/x509: workload X509-SVIDs, each
// granted or refused on its own.
func (s *Server) agentX509SVIDs(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	var in agentproto.X509SVIDRequest
	if err := decodeAgentBody(r, &in); err != nil {
		return err
	}
	reqs := make([]nodes.X509Request, 0, len(in.Requests))
	for _, it := range in.Requests {
		reqs = append(reqs, nodes.X509Request{EntryID: it.EntryID, CSR: it.CSR})
	}
	res, err := s.agents.nodes.MintX509SVIDs(r.Context(), c, reqs)
	if err != nil {
		return err
	}
	out := agentproto.X509SVIDResponse{SVIDs: []agentproto.X509SVID{}}
	for _, it := range res {
		if it.Err != nil {
			out.Errors = append(out.Errors, agentproto.ItemError{EntryID: it.EntryID, Message: itemMessage(it.Err)})
			continue
		}
		out.SVIDs = append(out.SVIDs, agentproto.X509SVID{EntryID: it.EntryID, SPIFFEID: it.SPIFFEID,
			Chain: chainDER(it.SVID), ExpiresAt: it.SVID.ExpiresAt})
	}
	return writeJSON(w, http.StatusOK, out)
}

// agentJWTSVID is POST /agent/v1/svids/jwt.
func (s *Server) agentJWTSVID(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	var in agentproto.JWTSVIDRequest
	if err := decodeAgentBody(r, &in); err != nil {
		return err
	}
	tok, exp, err := s.agents.nodes.MintJWTSVID(r.Context(), c, in.EntryID, in.Audience)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, agentproto.JWTSVIDResponse{Token: tok, ExpiresAt: exp})
}

// decodeAgentBody reads and decodes an agent request body into v.
func decodeAgentBody(r *http.Request, v any) error {
	body, err := readAgentBody(r)
	if err != nil {
		return err
	}
	return decodeAgentJSON(body, v)
}

// chainDER returns an SVID's chain in DER, leaf first.
func chainDER(svid *ca.X509SVID) [][]byte {
	out := make([][]byte, 0, len(svid.Certificates))
	for _, c := range svid.Certificates {
		out = append(out, c.Raw)
	}
	return out
}
