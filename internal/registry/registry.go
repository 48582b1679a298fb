// Package registry owns workload entries: which SPIFFE ID a workload gets,
// which selectors identify it, which agent may serve it, who owns it and what
// it may at most be granted. It validates entries, keeps them in the store
// and records every change in the ledger.
//
// It does not issue credentials (package ca does) nor decide requests
// (package policy does).
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// Store is the persistence the registry needs; *store.Store implements
// it. Changes are written in a transaction with their audit event.
type Store interface {
	GetEntry(ctx context.Context, id string) (store.Entry, error)
	ListEntries(ctx context.Context, f store.EntryFilter) ([]store.Entry, error)
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// Auditor records audit events; *ledger.Ledger implements it. A change's
// event goes through RecordTx in the change's transaction, and Adopt is
// called once it commits; a refused change's event through Record.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
	ledger.TxAuditor
}

// Config configures a [Registry].
type Config struct {
	// TrustDomain is the only trust domain entries may belong to. Required.
	TrustDomain spiffeid.TrustDomain
	// Store keeps entries. Required.
	Store Store
	// Auditor receives an event for every change. Required.
	Auditor Auditor
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Agents, if set, is asked whether an entry's new parent is an agent
	// that is not evicted; nil accepts any parent of the trust domain.
	Agents Agents
	// Dependents, if set, is asked what acts for an entry before it is
	// deleted; nil means nothing does.
	Dependents Dependents
	// Hook, if set, takes part in the transaction of every update and
	// deletion of an entry.
	Hook Hook
}

// Hook takes part in the transaction of each update and deletion of an
// entry, so that state that depends on the entry's status changes with it
// or not at all: package oauth holds the tokens of the clients of an entry
// that is not active, and lifts the hold when it is active again. An
// error rolls the change back, and Update or Delete returns it.
type Hook interface {
	// EntryChanged is called with the entry as written, or as it was
	// before it was deleted.
	EntryChanged(ctx context.Context, tx *store.Tx, e Entry, deleted bool) error
}

// Registry manages workload entries.
type Registry struct {
	td     spiffeid.TrustDomain
	store  Store
	audit  Auditor
	clock  func() time.Time
	hook   Hook
	agents Agents     // nil: parents are not looked up
	deps   Dependents // nil: nothing acts for an entry
}

// New returns a Registry, or an error naming the missing Config field.
func New(cfg Config) (*Registry, error) {
	switch {
	case cfg.TrustDomain.IsZero():
		return nil, errors.New("registry: Config.TrustDomain is required")
	case cfg.Store == nil:
		return nil, errors.New("registry: Config.Store is required")
	case cfg.Auditor == nil:
		return nil, errors.New("registry: Config.Auditor is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Registry{td: cfg.TrustDomain, store: cfg.Store, audit: cfg.Auditor, clock: cfg.Clock, hook: cfg.Hook,
		agents: cfg.Agents, deps: cfg.Dependents}, nil
}

// Create validates spec and stores it as a new entry. It returns a
// *ValidationError for bad input (including a selector type no agent
// reports, see [KnownSelectorTypes], and a parent that is not an agent,
// see [Agents]) and ErrConflict if an entry with the same SPIFFE ID,
// parent and selectors exists.
func (r *Registry) Create(ctx context.Context, actor audit.Actor, spec Spec) (Entry, error) {
	e, err := spec.validate(r.td)
	if err == nil {
		err = checkSelectorTypes(e.Selectors, nil)
	}
	if err == nil {
		err = r.checkParent(ctx, e.ParentID, spiffeid.ID{})
	}
	if err != nil {
		r.auditFailure(ctx, actor, audit.TypeEntryCreated, "create", spec.SPIFFEID, err)
		return Entry{}, err
	}
	if e.ID, err = newID(); err != nil {
		return Entry{}, err
	}
	now := r.clock().UTC().Truncate(time.Microsecond)
	e.CreatedAt, e.UpdatedAt = now, now
	rec := e.toRecord()
	err = r.change(ctx, func(tx *store.Tx) (audit.Event, error) {
		if err := tx.CreateEntry(ctx, &rec); err != nil {
			return audit.Event{}, mapStoreErr(err)
		}
		e.Revision = rec.Revision
		return successEvent(actor, audit.TypeEntryCreated, "create", e), nil
	})
	if err != nil {
		r.auditFailure(ctx, actor, audit.TypeEntryCreated, "create", spec.SPIFFEID, err)
		return Entry{}, err
	}
	return e, nil
}

// MaxBatch is the most entries [Registry.CreateMany] takes at once.
const MaxBatch = 1000

// CreateMany validates every spec as [Registry.Create] does, then stores
// them all in one transaction, with one entry.created event each: all of
// them or none. It returns a *BatchError naming the first spec that is
// invalid or conflicts (with a stored entry or an earlier one of the
// batch), or a *ValidationError (field "entries") for an empty batch or
// one larger than [MaxBatch].
func (r *Registry) CreateMany(ctx context.Context, actor audit.Actor, specs []Spec) ([]Entry, error) {
	fail := func(err error) ([]Entry, error) {
		r.auditFailure(ctx, actor, audit.TypeEntryCreated, "create", fmt.Sprintf("%d entries", len(specs)), err)
		return nil, err
	}
	if len(specs) == 0 || len(specs) > MaxBatch {
		return fail(&ValidationError{Field: "entries", Reason: fmt.Sprintf("want 1 to %d entries, got %d", MaxBatch, len(specs))})
	}
	now := r.clock().UTC().Truncate(time.Microsecond)
	entries := make([]Entry, len(specs))
	for i, spec := range specs {
		e, err := spec.validate(r.td)
		if err == nil {
			err = checkSelectorTypes(e.Selectors, nil)
		}
		if err == nil {
			err = r.checkParent(ctx, e.ParentID, spiffeid.ID{})
		}
		if err == nil {
			e.ID, err = newID()
		}
		if err != nil {
			return fail(&BatchError{Index: i, Err: err})
		}
		e.CreatedAt, e.UpdatedAt = now, now
		entries[i] = e
	}
	err := ledger.WriteAuditedAll(ctx, r.store, r.audit, func(tx *store.Tx) ([]audit.Event, error) {
		evs := make([]audit.Event, len(entries))
		for i := range entries {
			rec := entries[i].toRecord()
			if err := tx.CreateEntry(ctx, &rec); err != nil {
				return nil, &BatchError{Index: i, Err: mapStoreErr(err)}
			}
			entries[i].Revision = rec.Revision
			evs[i] = successEvent(actor, audit.TypeEntryCreated, "create", entries[i])
		}
		return evs, nil
	})
	if err != nil {
		return fail(err)
	}
	return entries, nil
}

// Get returns the entry with the given ID, or ErrNotFound.
func (r *Registry) Get(ctx context.Context, id string) (Entry, error) {
	rec, err := r.store.GetEntry(ctx, id)
	if err != nil {
		return Entry{}, mapStoreErr(err)
	}
	return fromRecord(rec)
}

// Filter narrows [Registry.List].
type Filter struct {
	SPIFFEID string
	ParentID string
	Status   string
	// AnyAgent selects only the entries every agent may serve: the
	// query behind the governance finding that reports them.
	AnyAgent bool
	After    string // cursor: the last ID of the previous page
	Limit    int    // zero: 100; at most 1000
}

// List returns one page of entries in ID order and the cursor for the next
// page, empty when there is none. A bad status filter is a
// *ValidationError.
func (r *Registry) List(ctx context.Context, f Filter) ([]Entry, string, error) {
	if f.Status != "" {
		if _, err := ParseStatus(f.Status); err != nil {
			return nil, "", err
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	recs, err := r.store.ListEntries(ctx, store.EntryFilter{
		SPIFFEID: f.SPIFFEID, ParentID: f.ParentID, Status: f.Status, AnyAgent: f.AnyAgent, After: f.After, Limit: limit,
	})
	if err != nil {
		return nil, "", fmt.Errorf("list entries: %w", err)
	}
	out := make([]Entry, 0, len(recs))
	for _, rec := range recs {
		e, err := fromRecord(rec)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	next := ""
	if len(out) == limit {
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// Update replaces the entry's fields with spec. spec.Revision must be the
// revision the caller read; if the entry changed since, Update returns
// ErrConflict. It returns ErrNotFound, a *ValidationError (as Create, but a
// selector or parent the entry has already is kept), ErrConflict for a
// duplicate, or the Hook's error.
func (r *Registry) Update(ctx context.Context, actor audit.Actor, id string, spec Spec) (Entry, error) {
	cur, err := r.Get(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	e, err := spec.validate(r.td)
	if err == nil {
		err = checkSelectorTypes(e.Selectors, cur.Selectors)
	}
	if err == nil {
		err = r.checkParent(ctx, e.ParentID, cur.ParentID)
	}
	if err != nil {
		r.auditFailure(ctx, actor, audit.TypeEntryUpdated, "update", id, err)
		return Entry{}, err
	}
	e.ID, e.CreatedAt = cur.ID, cur.CreatedAt
	e.UpdatedAt = r.clock().UTC().Truncate(time.Microsecond)
	e.Revision = spec.Revision
	rec := e.toRecord()
	err = r.change(ctx, func(tx *store.Tx) (audit.Event, error) {
		if err := tx.UpdateEntry(ctx, &rec); err != nil {
			return audit.Event{}, mapStoreErr(err)
		}
		e.Revision = rec.Revision
		if err := r.runHook(ctx, tx, e, false); err != nil {
			return audit.Event{}, err
		}
		return successEvent(actor, audit.TypeEntryUpdated, "update", e), nil
	})
	if err != nil {
		r.auditFailure(ctx, actor, audit.TypeEntryUpdated, "update", id, err)
		return Entry{}, err
	}
	return e, nil
}

// Delete removes the entry. It returns ErrNotFound, an *InUseError if
// something acts for the entry (see [Dependents]) and the entry is kept
// ([Registry.DeleteCascade] deletes them too), or the Hook's error.
func (r *Registry) Delete(ctx context.Context, actor audit.Actor, id string) error {
	_, err := r.delete(ctx, actor, id, false)
	return err
}

// runHook calls the hook, if any, in the change's transaction.
func (r *Registry) runHook(ctx context.Context, tx *store.Tx, e Entry, deleted bool) error {
	if r.hook == nil {
		return nil
	}
	if err := r.hook.EntryChanged(ctx, tx, e, deleted); err != nil {
		return fmt.Errorf("registry: entry %s: %w", e.ID, err)
	}
	return nil
}

// FindBySPIFFEID returns the entries that carry the given SPIFFE ID (at most
// 1000).
func (r *Registry) FindBySPIFFEID(ctx context.Context, id spiffeid.ID) ([]Entry, error) {
	out, _, err := r.List(ctx, Filter{SPIFFEID: id.String(), Limit: 1000})
	return out, err
}

// change runs write in a store transaction with the event it returns
// (see ledger.WriteAudited).
func (r *Registry) change(ctx context.Context, write func(tx *store.Tx) (audit.Event, error)) error {
	return ledger.WriteAudited(ctx, r.store, r.audit, write)
}

// successEvent is the event of a change made to e.
func successEvent(actor audit.Actor, typ, action string, e Entry) audit.Event {
	return audit.Event{
		Type: typ, Actor: actor, Target: e.ID, Action: action, Outcome: audit.OutcomeSuccess,
		Details: servedBy(e, map[string]string{
			"spiffe_id": e.SPIFFEID.String(),
			"status":    string(e.Status),
			"revision":  strconv.FormatInt(e.Revision, 10),
		}),
	}
}

// servedBy adds to d which agents may serve e: its parent, or
// any_agent=true for the opt-in.
func servedBy(e Entry, d map[string]string) map[string]string {
	switch {
	case !e.ParentID.IsZero():
		d["parent_id"] = e.ParentID.String()
	case e.AnyAgent:
		d["any_agent"] = "true"
	}
	return d
}

// auditFailure records a refused change. A failure to record is not
// returned: the caller is already failing with the original error.
func (r *Registry) auditFailure(ctx context.Context, actor audit.Actor, typ, action, target string, cause error) {
	reason := "internal error"
	var ve *ValidationError
	switch {
	case errors.As(cause, &ve):
		reason = ve.Error()
	case errors.Is(cause, ErrConflict), errors.Is(cause, ErrNotFound), errors.As(cause, new(*InUseError)):
		reason = cause.Error()
	}
	_, _ = r.audit.Record(ctx, audit.Event{
		Type: typ, Actor: actor, Target: truncate(target), Action: action,
		Outcome: audit.OutcomeFailure, Reason: reason,
	})
}

func mapStoreErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return ErrConflict
	}
	return fmt.Errorf("registry store: %w", err)
}

// newID returns a random 128-bit entry ID in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("entry id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
