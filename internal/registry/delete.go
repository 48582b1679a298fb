package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/store"
)

// Dependents is what acts for an entry and must not outlive it: the OAuth
// clients bound to it. The token service answers it.
type Dependents interface {
	// EntryDependents returns the IDs of the clients that act for the
	// entry.
	EntryDependents(ctx context.Context, entryID string) ([]string, error)
	// DeleteEntryDependent deletes one of them, recording the deletion
	// as actor's.
	DeleteEntryDependent(ctx context.Context, actor audit.Actor, id string) error
}

// InUseError is the error of [Registry.Delete] for an entry that OAuth
// clients act for. Its text is safe to show to the caller.
type InUseError struct {
	EntryID string
	// Clients are the IDs of the clients that act for the entry.
	Clients []string
}

// Error names the clients and the way out.
func (e *InUseError) Error() string {
	return fmt.Sprintf("OAuth clients act for the entry: %s; delete them first, or the entry with them", strings.Join(e.Clients, ", "))
}

// DeleteCascade deletes the OAuth clients that act for the entry (each
// recorded in the ledger by the token service), then the entry, whose
// event names them in its "deleted_clients" detail. It returns the IDs of
// the clients it deleted, ErrNotFound, or the first error; clients deleted
// before an error stay deleted.
func (r *Registry) DeleteCascade(ctx context.Context, actor audit.Actor, id string) ([]string, error) {
	return r.delete(ctx, actor, id, true)
}

// delete is Delete and, with cascade, DeleteCascade. The Hook's error
// rolls the deletion back and is returned.
func (r *Registry) delete(ctx context.Context, actor audit.Actor, id string, cascade bool) ([]string, error) {
	cur, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var clients []string
	if r.deps != nil {
		if clients, err = r.deps.EntryDependents(ctx, id); err != nil {
			return nil, fmt.Errorf("registry: what acts for entry %s: %w", id, err)
		}
	}
	if len(clients) > 0 && !cascade {
		err := &InUseError{EntryID: id, Clients: clients}
		r.auditFailure(ctx, actor, audit.TypeEntryDeleted, "delete", id, err)
		return nil, err
	}
	for i, c := range clients {
		if err := r.deps.DeleteEntryDependent(ctx, actor, c); err != nil {
			return clients[:i], fmt.Errorf("registry: delete client %s of entry %s: %w", c, id, err)
		}
	}
	err = r.change(ctx, func(tx *store.Tx) (audit.Event, error) {
		if err := tx.DeleteEntry(ctx, id); err != nil {
			return audit.Event{}, mapStoreErr(err)
		}
		if err := r.runHook(ctx, tx, cur, true); err != nil {
			return audit.Event{}, err
		}
		ev := successEvent(actor, audit.TypeEntryDeleted, "delete", cur)
		if len(clients) > 0 {
			ev.Details["deleted_clients"] = strings.Join(clients, ",")
		}
		return ev, nil
	})
	return clients, err
}
