package server

import (
	"context"
	"errors"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/nodes"
)

// registryAgents answers the registry's questions about agents (see
// registry.Agents) from the node service, which is built after the
// registry.
type registryAgents struct{ s *Server }

// Agent implements registry.Agents.
func (a registryAgents) Agent(ctx context.Context, id spiffeid.ID) (exists, evicted bool, err error) {
	if a.s.agents == nil {
		return false, false, errors.New("server: the node service is not built yet")
	}
	ag, err := a.s.agents.nodes.AgentBySPIFFEID(ctx, id)
	switch {
	case errors.Is(err, nodes.ErrAgentNotFound):
		return false, false, nil
	case err != nil:
		return false, false, err
	}
	return true, ag.Evicted(), nil
}
