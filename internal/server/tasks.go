package server

import (
	"context"
	"errors"
	"sync"
)

// task is a long-lived part of the server: it runs until ctx is done and
// returns nil then, or returns an error that stops the whole server.
type task struct {
	name string
	run  func(ctx context.Context) error
}

// runTasks runs every task until ctx is done or one of them fails; then it
// cancels the rest, waits for all of them, and returns the first error.
func runTasks(ctx context.Context, tasks []task) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Go(func() {
			if err := t.run(ctx); err != nil {
				cancel(&taskError{name: t.name, err: err})
			} else if ctx.Err() == nil {
				cancel(&taskError{name: t.name, err: errStoppedEarly})
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if te := (*taskError)(nil); errors.As(err, &te) {
			return te
		}
	}
	return nil
}

type taskError struct {
	name string
	err  error
}

func (e *taskError) Error() string { return e.name + ": " + e.err.Error() }
func (e *taskError) Unwrap() error { return e.err }

// errStoppedEarly is the cause when a task returns nil before shutdown.
var errStoppedEarly = errors.New("stopped before shutdown")
