package synchub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// Subscription is what an authenticated agent asks of its stream.
type Subscription struct {
	// Agent is the agent's SPIFFE ID: it receives the entries whose parent
	// is Agent or empty.
	Agent spiffeid.ID
	// IssuedAt is when the SVID the agent connected with was issued (its
	// NotBefore). A revocation of Agent's SPIFFE ID at or after it ends
	// the stream with an Evicted message.
	IssuedAt time.Time
	// Revision and Revocations are the registry and revocation-set
	// revisions the agent holds (?revision= and ?revocations=); zero for
	// none.
	Revision, Revocations int64
}

// MessageWriter writes one message to an agent's stream and flushes it.
// It must give up after a bounded time when the agent does not read.
type MessageWriter interface {
	WriteMessage(m *agentproto.Message) error
}

// subscriber is one connected stream.
type subscriber struct {
	agent    string // SPIFFE ID
	issuedAt int64  // Unix seconds
	q        chan *agentproto.Message
	done     chan struct{} // closed when the hub drops the stream
	// reason says why done was closed: errEvicted or ErrSlowConsumer. It
	// is written before done is closed.
	reason error
}

// errEvicted is the reason a subscriber is dropped for a revoked agent.
var errEvicted = errors.New("sync: agent identity revoked")

// Stream serves one agent's stream until ctx is done: it writes the
// catch-up message that brings the agent from its revisions to the
// current state (or the full state), then every change that concerns the
// agent as it happens, and a heartbeat whenever the stream was silent for
// the heartbeat interval.
//
// It returns nil when ctx is done or after writing an Evicted message
// (the agent's SPIFFE ID was revoked), [ErrSlowConsumer] when the agent fell
// behind, [ErrClosed] when the hub stopped, or the error of a failed write
// or of reading the catch-up from the store.
func (h *Hub) Stream(ctx context.Context, sub Subscription, w MessageWriter) error {
	s := &subscriber{agent: sub.Agent.String(), issuedAt: sub.IssuedAt.Unix(),
		q: make(chan *agentproto.Message, h.cfg.QueueSize), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.subscribe(s)
	at := snapshot{rev: h.rev, revocRev: h.revocRev, bundle: h.bundle, federated: maps.Clone(h.federated), policies: h.policies,
		tokenKeys: h.tokenKeys, trust: h.trustTable()}
	h.mu.Unlock()
	defer h.unsubscribe(s)

	first, err := h.catchUp(ctx, sub, at)
	if err != nil {
		return err
	}
	if err := w.WriteMessage(first); err != nil {
		return fmt.Errorf("sync: write catch-up: %w", err)
	}
	last := first.Revision
	beat := time.NewTimer(h.cfg.HeartbeatInterval)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			if s.reason == errEvicted {
				if err := w.WriteMessage(&agentproto.Message{Revision: last, Evicted: true}); err != nil {
					return fmt.Errorf("sync: write eviction: %w", err)
				}
				return nil
			}
			return s.reason
		case m := <-s.q:
			if err := w.WriteMessage(m); err != nil {
				return fmt.Errorf("sync: write: %w", err)
			}
			last = max(last, m.Revision)
		case <-beat.C:
			// Every message of a revision up to rev is queued before
			// the hub publishes rev, so after draining the queue the
			// agent holds rev.
			h.mu.Lock()
			rev := h.rev
			h.mu.Unlock()
			for drained := false; !drained; {
				select {
				case m := <-s.q:
					if err := w.WriteMessage(m); err != nil {
						return fmt.Errorf("sync: write: %w", err)
					}
					last = max(last, m.Revision)
				default:
					drained = true
				}
			}
			last = max(last, rev)
			if err := w.WriteMessage(&agentproto.Message{Revision: last, Heartbeat: true}); err != nil {
				return fmt.Errorf("sync: write heartbeat: %w", err)
			}
		}
		resetTimer(beat, h.cfg.HeartbeatInterval)
	}
}

// resetTimer restarts t for d.
func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	t.Reset(d)
}

// subscribe registers s. h.mu must be held.
func (h *Hub) subscribe(s *subscriber) {
	h.subs[s] = struct{}{}
	m := h.byAgent[s.agent]
	if m == nil {
		m = map[*subscriber]struct{}{}
		h.byAgent[s.agent] = m
	}
	m[s] = struct{}{}
	h.noteStatsLocked()
}

// unsubscribe forgets s, if the hub has not dropped it already.
func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forget(s)
}

// forget removes s from the indexes. h.mu must be held.
func (h *Hub) forget(s *subscriber) {
	delete(h.subs, s)
	h.noteStatsLocked()
	if m := h.byAgent[s.agent]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.byAgent, s.agent)
		}
	}
}

// drop ends s's stream for reason. h.mu must be held.
func (h *Hub) drop(s *subscriber, reason error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	h.forget(s)
	s.reason = reason
	close(s.done)
	if reason == ErrSlowConsumer {
		h.dropped.Add(1)
		h.cfg.Logger.Warn("sync: agent fell behind; closing its stream", "agent", s.agent)
	}
}

// send queues m for s without waiting; a full queue drops s. h.mu must be
// held.
func (h *Hub) send(s *subscriber, m *agentproto.Message) {
	select {
	case s.q <- m:
		h.sent.Add(1)
	default:
		h.drop(s, ErrSlowConsumer)
	}
}
