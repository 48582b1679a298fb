package server

import (
	"context"
	"errors"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/nodes"
	"github.com/kith-dev/kith/internal/oauth"
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

// entryClients tells the registry which OAuth clients act for an entry
// (see registry.Dependents) and deletes them through the token service,
// which records each deletion and revokes the client's tokens. The token
// service is built after the registry.
type entryClients struct{ s *Server }

// EntryDependents implements registry.Dependents.
func (d entryClients) EntryDependents(ctx context.Context, entryID string) ([]string, error) {
	if d.s.oauth == nil {
		return nil, errors.New("server: the token service is not built yet")
	}
	var ids []string
	for after := ""; ; {
		page, next, err := d.s.oauth.svc.ListClients(ctx, oauth.ClientFilter{EntryID: entryID, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			ids = append(ids, string(c.ID))
		}
		if next == "" || next == after {
			return ids, nil
		}
		after = next
	}
}

// DeleteEntryDependent implements registry.Dependents.
func (d entryClients) DeleteEntryDependent(ctx context.Context, actor audit.Actor, id string) error {
	return d.s.oauth.svc.DeleteClient(ctx, actor, oauth.ClientID(id))
}
