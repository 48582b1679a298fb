package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Change notices between replicas. Replicas sharing a PostgreSQL database
// learn of each other's changes (entries, revocations, policies, keys) by
// polling, every second or two; with notices they look at once. A writer
// calls [Store.Announce] after a change; every replica's [Store.Watch]
// calls its function when any replica announced. Notices carry no data:
// they only say "look now", so a lost one costs a poll interval.
// On SQLite, where one process owns the file, both are no-ops.

// changeChannel is the PostgreSQL NOTIFY channel of change notices; the
// payload is the announcing store's schema, so that deployments in
// different schemas of one database ignore each other.
const changeChannel = "kith_changes"

// Announce tells the other replicas that this one changed something. It
// returns nil at once on SQLite.
func (s *Store) Announce(ctx context.Context) error {
	if s.d != postgresDialect {
		return nil
	}
	if _, err := s.execCached(ctx, `SELECT pg_notify('`+changeChannel+`', current_schema())`); err != nil {
		return fmt.Errorf("store: announce change: %w", err)
	}
	return nil
}

// Watch calls fn whenever a replica (this one included) announces a
// change, until ctx is done; it then returns nil. It listens on a
// connection of its own, which it opens again after a failure (calling fn
// once it is back, for what may have been missed), with a growing delay
// up to watchMaxBackoff. On SQLite it waits for ctx and calls fn never.
func (s *Store) Watch(ctx context.Context, fn func()) error {
	if s.d != postgresDialect {
		<-ctx.Done()
		return nil
	}
	delay := watchMinBackoff
	for ctx.Err() == nil {
		reconnected, err := s.watchOnce(ctx, fn)
		if ctx.Err() != nil {
			break
		}
		if reconnected {
			delay = watchMinBackoff
		}
		s.logger.LogAttrs(ctx, slog.LevelError, "store: watching change notices; retrying",
			slog.String("error", err.Error()), slog.Duration("after", delay))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(2*delay, watchMaxBackoff)
	}
	return nil
}

// Backoff of Watch between connection attempts.
const (
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 10 * time.Second
)

// watchOnce listens on one connection until it fails or ctx is done. It
// reports whether it got as far as listening.
func (s *Store) watchOnce(ctx context.Context, fn func()) (listening bool, err error) {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+changeChannel); err != nil {
		return false, err
	}
	fn() // whatever was announced while no one listened
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if n.Payload == schema {
			fn()
		}
	}
}
