// Package ledger is the single sink for audit events: every change of state
// in Kith (an entry created, an SVID minted, a CA key rotated, a failed admin
// login) is handed to [Ledger.Record] as a structured [Event].
//
// The ledger stores events in order and never drops one silently: Record
// returns an error when the event could not be made durable, and callers
// treat that as a failure of the action. It does not decide anything and
// never sees secrets. A later version makes the stored sequence a Merkle
// log with signed checkpoints; the Record contract stays the same.
package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kith-dev/kith/internal/store"
)

// EventStore is the persistence the ledger needs.
type EventStore interface {
	AppendEvent(ctx context.Context, ev *store.Event) error
	ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error)
}

// Config configures a [Ledger].
type Config struct {
	// Store keeps the events. Required.
	Store EventStore
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives a line for every event; nil discards.
	Logger *slog.Logger
}

// Ledger records audit events.
type Ledger struct {
	store  EventStore
	clock  func() time.Time
	logger *slog.Logger
}

// New returns a Ledger. It fails if cfg.Store is nil.
func New(cfg Config) (*Ledger, error) {
	if cfg.Store == nil {
		return nil, errors.New("ledger: Config.Store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ledger{store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger}, nil
}

// Record makes ev durable and returns its index in the ledger. It fills
// ev.Time when zero. It returns an error if the event lacks a Type, Action
// or Outcome, or if the store fails; the caller must then treat the audited
// action as failed.
func (l *Ledger) Record(ctx context.Context, ev Event) (int64, error) {
	if ev.Type == "" || ev.Action == "" || ev.Outcome == "" {
		return 0, fmt.Errorf("ledger: event needs type, action and outcome (got %q, %q, %q)", ev.Type, ev.Action, ev.Outcome)
	}
	if ev.Time.IsZero() {
		ev.Time = l.clock()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	body, err := Marshal(ev)
	if err != nil {
		return 0, err
	}
	row := &store.Event{
		Time:    ev.Time,
		Type:    ev.Type,
		Outcome: string(ev.Outcome),
		Actor:   ev.Actor.ID,
		Target:  ev.Target,
		Body:    body,
	}
	if err := l.store.AppendEvent(ctx, row); err != nil {
		return 0, fmt.Errorf("ledger: append %s: %w", ev.Type, err)
	}
	l.logger.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.Int64("index", row.Index),
		slog.String("type", ev.Type),
		slog.String("actor", ev.Actor.ID),
		slog.String("target", ev.Target),
		slog.String("outcome", string(ev.Outcome)))
	return row.Index, nil
}

// Query returns stored events matching f, oldest first.
func (l *Ledger) Query(ctx context.Context, f store.EventFilter) ([]Event, error) {
	rows, err := l.store.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("ledger: query: %w", err)
	}
	out := make([]Event, 0, len(rows))
	for _, r := range rows {
		var ev Event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			return nil, fmt.Errorf("ledger: event %d: %w", r.Index, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Marshal returns the canonical JSON encoding of ev: struct fields in
// declaration order, map keys sorted, no insignificant space, times in
// RFC 3339 UTC with microseconds.
func Marshal(ev Event) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("ledger: encode event: %w", err)
	}
	return b, nil
}
