package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Agents is what the registry asks about the agents of the trust domain,
// to refuse a parent that cannot serve an entry; the server's node
// service answers it.
type Agents interface {
	// Agent reports whether an agent has SPIFFE ID id and, if so,
	// whether it was evicted.
	Agent(ctx context.Context, id spiffeid.ID) (exists, evicted bool, err error)
}

// KnownSelectorTypes are the selector types an agent reports for a
// workload; an entry with a selector of another type could never match.
func KnownSelectorTypes() []string { return []string{"unix"} }

// checkSelectorTypes refuses a selector of sels whose type no agent
// reports, unless it is one of kept (the entry's selectors before an
// update: an entry stored before types were checked keeps what it had).
func checkSelectorTypes(sels, kept []Selector) error {
	known := KnownSelectorTypes()
	for _, s := range sels {
		if slices.Contains(known, s.Type) || slices.Contains(kept, s) {
			continue
		}
		reason := fmt.Sprintf("selector %q: unknown type %q (known types: %s", truncate(s.String()), s.Type, strings.Join(known, ", "))
		// uid:1000 is a unix selector without its type.
		for _, t := range known {
			if _, err := ParseSelector(t + ":" + s.String()); err == nil {
				reason += fmt.Sprintf("; did you mean %q?", t+":"+s.String())
				break
			}
		}
		return &ValidationError{Field: "selectors", Reason: reason + ")"}
	}
	return nil
}

// checkParent refuses a parent that is not an agent of the trust domain,
// or one that was evicted, unless it is the entry's parent already
// (was): an agent evicted since does not freeze its entries. Without
// Config.Agents any parent is accepted.
func (r *Registry) checkParent(ctx context.Context, parent, was spiffeid.ID) error {
	if r.agents == nil || parent.IsZero() || parent == was {
		return nil
	}
	exists, evicted, err := r.agents.Agent(ctx, parent)
	switch {
	case err != nil:
		return fmt.Errorf("registry: look up parent agent: %w", err)
	case !exists:
		return &ValidationError{Field: "parent_id", Reason: fmt.Sprintf("no agent has SPIFFE ID %s (kith agent list shows the agents)", parent)}
	case evicted:
		return &ValidationError{Field: "parent_id", Reason: fmt.Sprintf("agent %s was evicted: it serves no entry", parent)}
	}
	return nil
}
