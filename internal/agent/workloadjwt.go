package agent

import (
	"context"
	"errors"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/authn"
)

// FetchJWTSVID returns a JWT-SVID for the audience for every entry that
// matches the caller, or only for the requested SPIFFE ID. It fails with
// InvalidArgument without an audience or with a malformed SPIFFE ID,
// PermissionDenied when no (requested) entry matches the caller, and
// Unavailable if a token cannot be minted.
func (s *workloadServer) FetchJWTSVID(ctx context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if len(req.Audience) == 0 {
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	}
	for _, a := range req.Audience {
		if a == "" {
			return nil, status.Error(codes.InvalidArgument, "audience must not be empty")
		}
	}
	entries, err := s.matching(ctx)
	if err != nil {
		return nil, err
	}
	if req.SpiffeId != "" {
		want, err := spiffeid.FromString(req.SpiffeId)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "invalid requested SPIFFE ID: %v", err)
		}
		var only []agentproto.Entry
		for _, e := range entries {
			if e.SPIFFEID == want.String() {
				only = append(only, e)
			}
		}
		entries = only
	}
	if len(entries) == 0 {
		return nil, errNoIdentity
	}
	resp := &workload.JWTSVIDResponse{}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.SPIFFEID] { // one token per identity
			continue
		}
		seen[e.SPIFFEID] = true
		tok, err := s.a.jwts.get(ctx, e, req.Audience)
		if err != nil {
			s.a.logger.Warn("workload API: JWT-SVID unavailable", "entry_id", e.ID, "error", err)
			return nil, status.Error(codes.Unavailable, "JWT-SVID not available")
		}
		resp.Svids = append(resp.Svids, &workload.JWTSVID{SpiffeId: e.SPIFFEID, Svid: tok})
	}
	return resp, nil
}

// FetchJWTBundles streams the JWT bundles (own and federated, as JWKS) to a
// caller that has an identity, again whenever they change.
func (s *workloadServer) FetchJWTBundles(_ *workload.JWTBundlesRequest, stream workload.SpiffeWorkloadAPI_FetchJWTBundlesServer) error {
	return s.streamBundles(stream.Context(), func(own *spiffebundle.Bundle, fed map[spiffeid.TrustDomain]*spiffebundle.Bundle) (map[string][]byte, error) {
		m := map[string][]byte{}
		for _, b := range append([]*spiffebundle.Bundle{own}, valuesOf(fed)...) {
			jwks, err := b.JWTBundle().Marshal()
			if err != nil {
				return nil, status.Errorf(codes.Internal, "marshal JWT bundle of %s", b.TrustDomain())
			}
			m[b.TrustDomain().IDString()] = jwks
		}
		return m, nil
	}, func(m map[string][]byte) error {
		return stream.Send(&workload.JWTBundlesResponse{Bundles: m})
	})
}

// ValidateJWTSVID validates a JWT-SVID for an audience against the own and
// federated JWT bundles and the revocation set, and returns its SPIFFE ID
// and claims. Any local process may call it: it reveals nothing but what
// the token holds. It fails with InvalidArgument for a missing audience or
// token and for a token that does not validate or is revoked.
func (s *workloadServer) ValidateJWTSVID(ctx context.Context, req *workload.ValidateJWTSVIDRequest) (*workload.ValidateJWTSVIDResponse, error) {
	switch {
	case req.Audience == "":
		return nil, status.Error(codes.InvalidArgument, "audience must be specified")
	case req.Svid == "":
		return nil, status.Error(codes.InvalidArgument, "svid must be specified")
	}
	v, err := authn.ValidateJWTSVID(req.Svid, req.Audience, s.a.state, s.a.state, s.a.clock())
	if err != nil {
		if errors.Is(err, authn.ErrRevoked) {
			return nil, status.Error(codes.InvalidArgument, "token is revoked")
		}
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	claims, err := structpb.NewStruct(v.Claims)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode claims: %v", err)
	}
	return &workload.ValidateJWTSVIDResponse{SpiffeId: v.ID.String(), Claims: claims}, nil
}

// valuesOf returns the bundles of a map.
func valuesOf(m map[spiffeid.TrustDomain]*spiffebundle.Bundle) []*spiffebundle.Bundle {
	out := make([]*spiffebundle.Bundle, 0, len(m))
	for _, b := range m {
		out = append(out, b)
	}
	return out
}
