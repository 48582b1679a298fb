package store_test

import (
	"context"
	"testing"
	"time"
)

// TestChangeNotices checks that a store watching a PostgreSQL database
// hears what another store on the same schema announces, and not what
// one on another schema does; and that both are no-ops on SQLite.
func TestChangeNotices(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := open(t, sqliteURL(t), nil)
		if err := s.Announce(t.Context()); err != nil {
			t.Errorf("Announce: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := s.Watch(ctx, func() { t.Error("notified on SQLite") }); err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		base := postgresBase(t)
		url := postgresSchema(t, base)
		watcher, same, other := open(t, url, nil), open(t, url, nil), open(t, postgresSchema(t, base), nil)
		heard := make(chan struct{}, 16)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- watcher.Watch(ctx, func() { heard <- struct{}{} }) }()
		wait := func(what string) bool {
			select {
			case <-heard:
				return true
			case <-time.After(5 * time.Second):
				t.Errorf("no notice after %s", what)
				return false
			}
		}
		wait("starting to listen") // Watch calls fn once it listens
		if err := other.Announce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := same.Announce(t.Context()); err != nil {
			t.Fatal(err)
		}
		wait("an announce on the same schema")
		select {
		case <-heard:
			t.Error("heard a second notice: the other schema's announce got through")
		case <-time.After(300 * time.Millisecond):
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
}
