// Package policyset owns the versioned policy sets of the control plane:
// it applies and deletes policy documents as new revisions of the whole
// set in the store, reads revisions back, and records every change (and,
// for callers that log decisions there, each decision) in the ledger. It is
// the control-plane side of package policy, apart from it so that proxies
// and the SDK, which decide with package policy, link neither the store
// nor the ledger.
//
// It does not decide calls (package policy does) nor push revisions to
// proxies (the sync hub does, woken by ServiceConfig.Changed).
package policyset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/policy"
	"github.com/kith-dev/kith/internal/store"
)

// Store keeps the revisions of the policy set; *store.Store implements it.
// A revision is written in a transaction with its audit event.
type Store interface {
	GetPolicySet(ctx context.Context, revision int64) (store.PolicySet, error)
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
}

// Auditor records audit events; *ledger.Ledger implements it. Decisions
// go through Record; a revision's event through RecordTx in the
// revision's transaction, then Adopt.
type Auditor interface {
	Record(ctx context.Context, ev audit.Event) (int64, error)
	ledger.TxAuditor
}

// ErrNotFound is returned by [Service] for a policy name that is not in
// the current set.
var ErrNotFound = errors.New("policy not found")

// ServiceConfig configures a [Service].
type ServiceConfig struct {
	// Store keeps the policy set's revisions. Required.
	Store Store
	// Auditor receives an event for every new revision. Required.
	Auditor Auditor
	// Changed, if set, is called after each new revision, to push it to
	// proxies at once. Concurrent Applies may call it concurrently.
	Changed func()
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Service manages the versioned policy set of the control plane: it
// validates documents before storing them, writes each change as one new
// revision of the whole set, and records it in the ledger. It is safe for
// concurrent use; concurrent changes are serialised by the store.
type Service struct {
	cfg ServiceConfig
}

// NewService returns a Service, or an error naming a missing Config field.
func NewService(cfg ServiceConfig) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("policy: ServiceConfig.Store is required")
	case cfg.Auditor == nil:
		return nil, errors.New("policy: ServiceConfig.Auditor is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Snapshot is one revision of the policy set.
type Snapshot struct {
	// Revision is 0 before the first apply.
	Revision int64
	// Documents are the policies, sorted by name.
	Documents []policy.Document
	// UpdatedAt and Actor say when and by whom the revision was written.
	UpdatedAt time.Time
	Actor     string
}

// Current returns the latest revision of the set: an empty Snapshot at
// revision 0 when nothing was applied yet. It returns an error if the
// store fails or holds documents that do not decode.
func (s *Service) Current(ctx context.Context) (*Snapshot, error) {
	ps, err := s.cfg.Store.GetPolicySet(ctx, 0)
	if errors.Is(err, store.ErrNotFound) {
		return &Snapshot{Documents: []policy.Document{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy: read set: %w", err)
	}
	docs, err := policy.UnmarshalDocuments(ps.Documents)
	if err != nil {
		return nil, fmt.Errorf("policy: revision %d: %w", ps.Revision, err)
	}
	return &Snapshot{Revision: ps.Revision, Documents: docs, UpdatedAt: ps.CreatedAt, Actor: ps.Actor}, nil
}

// Get returns the policy called name from the latest revision, and that
// revision. It returns [ErrNotFound] if there is none.
func (s *Service) Get(ctx context.Context, name string) (policy.Document, int64, error) {
	cur, err := s.Current(ctx)
	if err != nil {
		return policy.Document{}, 0, err
	}
	for _, d := range cur.Documents {
		if d.Name == name {
			return d, cur.Revision, nil
		}
	}
	return policy.Document{}, cur.Revision, fmt.Errorf("policy %q: %w", name, ErrNotFound)
}

// ApplyResult is what an apply or a delete did.
type ApplyResult struct {
	// Revision is the set's revision afterwards: a new one, or the current
	// one when nothing changed.
	Revision int64
	// Changes lists the policies applied or deleted, by name.
	Changes []policy.Change
}

// maxTries bounds how often a change is retried after losing a race with
// another writer.
const maxTries = 5

// Apply creates or replaces docs in the set (policies not in docs are
// kept) and writes the result as a new revision, unless nothing changed.
// The documents and the whole new set are compiled first: an invalid
// document returns an [policy.ErrorList] and stores nothing. It returns an error
// wrapping store.ErrConflict if other writers kept winning the race, and
// an error if the ledger refused the event (the revision is stored then).
func (s *Service) Apply(ctx context.Context, actor audit.Actor, docs []policy.Document) (*ApplyResult, error) {
	if _, err := policy.Compile(docs, policy.CompileOptions{}); err != nil {
		return nil, err
	}
	return s.change(ctx, actor, "apply", func(cur []policy.Document) ([]policy.Document, []policy.Change, error) {
		changes := policy.Diff(cur, docs)
		next := slices.Clone(cur)
		for _, d := range docs {
			if i := slices.IndexFunc(next, func(o policy.Document) bool { return o.Name == d.Name }); i >= 0 {
				next[i] = d
			} else {
				next = append(next, d)
			}
		}
		return next, changes, nil
	})
}

// Delete removes the policy called name from the set as a new revision.
// It returns [ErrNotFound] if there is no such policy, and the errors of
// [Service.Apply].
func (s *Service) Delete(ctx context.Context, actor audit.Actor, name string) (*ApplyResult, error) {
	return s.change(ctx, actor, "delete", func(cur []policy.Document) ([]policy.Document, []policy.Change, error) {
		i := slices.IndexFunc(cur, func(d policy.Document) bool { return d.Name == name })
		if i < 0 {
			return nil, nil, fmt.Errorf("policy %q: %w", name, ErrNotFound)
		}
		return slices.Delete(slices.Clone(cur), i, i+1), []policy.Change{{Name: name, Kind: policy.ChangeDeleted}}, nil
	})
}

// change writes the set edit makes of the current one as a new revision,
// retrying when another writer got there first.
func (s *Service) change(ctx context.Context, actor audit.Actor, verb string,
	edit func(cur []policy.Document) ([]policy.Document, []policy.Change, error)) (*ApplyResult, error) {
	for try := 0; ; try++ {
		cur, err := s.Current(ctx)
		if err != nil {
			return nil, err
		}
		next, changes, err := edit(cur.Documents)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(changes, func(c policy.Change) bool { return c.Kind != policy.ChangeUnchanged }) {
			return &ApplyResult{Revision: cur.Revision, Changes: changes}, nil
		}
		set, err := policy.Compile(next, policy.CompileOptions{})
		if err != nil {
			return nil, err
		}
		data, err := policy.MarshalDocuments(set.Documents())
		if err != nil {
			return nil, err
		}
		ps := &store.PolicySet{Revision: cur.Revision + 1, Documents: data, Actor: actor.ID,
			Summary: summary(changes), CreatedAt: s.cfg.Clock()}
		err = ledger.WriteAudited(ctx, s.cfg.Store, s.cfg.Auditor, func(tx *store.Tx) (audit.Event, error) {
			if err := tx.PutPolicySet(ctx, ps); err != nil {
				return audit.Event{}, err
			}
			return auditEvent(actor, verb, ps, changes, set.Len()), nil
		})
		if errors.Is(err, store.ErrConflict) && try+1 < maxTries {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("policy: %s: %w", verb, err)
		}
		if s.cfg.Changed != nil {
			s.cfg.Changed()
		}
		return &ApplyResult{Revision: ps.Revision, Changes: changes}, nil
	}
}

// auditEvent is the ledger event of revision ps of the set, made by
// actor with verb ("apply" or "delete"); n is the number of policies.
func auditEvent(actor audit.Actor, verb string, ps *store.PolicySet, changes []policy.Change, n int) audit.Event {
	sum := sha256.Sum256(ps.Documents)
	details := map[string]string{"sha256": hex.EncodeToString(sum[:]), "policies": strconv.Itoa(n)}
	for _, kind := range []string{policy.ChangeCreated, policy.ChangeUpdated, policy.ChangeDeleted} {
		var names []string
		for _, c := range changes {
			if c.Kind == kind {
				names = append(names, c.Name)
			}
		}
		if names != nil {
			details[kind] = joinNames(names, ",", maxAuditNames)
		}
	}
	typ := audit.TypePolicyApplied
	if verb == "delete" {
		typ = audit.TypePolicyDeleted
	}
	return audit.Event{
		Time: ps.CreatedAt, Type: typ, Actor: actor, Target: "policy-set", Action: verb,
		Outcome: audit.OutcomeSuccess, Policy: &audit.Policy{Revision: ps.Revision},
		Reason: ps.Summary, Details: details,
	}
}

// summary describes changes in a line: "created a, b; updated c".
func summary(changes []policy.Change) string {
	var parts []string
	for _, kind := range []string{policy.ChangeCreated, policy.ChangeUpdated, policy.ChangeDeleted} {
		var names []string
		for _, c := range changes {
			if c.Kind == kind {
				names = append(names, c.Name)
			}
		}
		if names != nil {
			parts = append(parts, kind+" "+joinNames(names, ", ", maxAuditNames))
		}
	}
	return strings.Join(parts, "; ")
}

// maxAuditNames bounds each list of policy names in a revision's summary
// and audit event, so that the event of a set of thousands of policies
// still fits a ledger entry (64 KiB); the event's sha256 of the documents
// and the stored revisions identify the whole change.
const maxAuditNames = 4 << 10

// joinNames joins names with sep, as many as fit in limit bytes, and
// says how many more there are: "a, b (+40 more)".
func joinNames(names []string, sep string, limit int) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 && b.Len()+len(sep)+len(n) > limit {
			fmt.Fprintf(&b, " (+%d more)", len(names)-i)
			break
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(n)
	}
	return b.String()
}
