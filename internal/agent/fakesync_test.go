package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// putEntry creates or updates an entry at a new revision.
func (fs *fakeServer) putEntry(e agentproto.Entry) agentproto.Entry {
	fs.mu.Lock()
	fs.revision++
	e.Revision = fs.revision
	if e.Status == "" {
		e.Status = "active"
	}
	if e.ID == "" {
		e.ID = "e" + strconv.FormatInt(e.Revision, 10)
	}
	fs.entries[e.ID] = e
	delete(fs.tombstones, e.ID)
	fs.mu.Unlock()
	fs.changes.notify()
	return e
}

// deleteEntry deletes an entry at a new revision.
func (fs *fakeServer) deleteEntry(id string) {
	fs.mu.Lock()
	fs.revision++
	delete(fs.entries, id)
	fs.tombstones[id] = fs.revision
	fs.mu.Unlock()
	fs.changes.notify()
}

// revoke adds a revocation set entry, revoked now.
func (fs *fakeServer) revoke(kind, value string) agentproto.Revocation {
	fs.mu.Lock()
	r := agentproto.Revocation{Kind: kind, Value: value, RevokedAt: fs.clock.Now().UTC(), Reason: "test",
		Revision: int64(len(fs.revocations) + 1)}
	fs.revocations = append(fs.revocations, r)
	fs.mu.Unlock()
	fs.changes.notify()
	return r
}

// evict evicts an agent: its stream ends with Evicted, its calls get 403.
func (fs *fakeServer) evict(id spiffeid.ID) {
	fs.mu.Lock()
	fs.evicted[id] = true
	fs.mu.Unlock()
	fs.changes.notify()
}

// setFederated adds or replaces a federated bundle.
func (fs *fakeServer) setFederated(b *spiffebundle.Bundle) {
	data, err := b.Marshal()
	if err != nil {
		fs.tb.Fatal(err)
	}
	fs.mu.Lock()
	fs.revision++
	fs.federated[b.TrustDomain().Name()] = data
	fs.fedRevision[b.TrustDomain().Name()] = fs.revision
	fs.mu.Unlock()
	fs.changes.notify()
}

// setSilent stops (or resumes) heartbeats, as a hung connection would.
func (fs *fakeServer) setSilent(v bool) {
	fs.mu.Lock()
	fs.silent = v
	fs.mu.Unlock()
}

// syncLog returns the sync requests seen so far.
func (fs *fakeServer) syncLog() []syncRecord {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]syncRecord(nil), fs.syncs...)
}

// mintCount returns the X509-SVID items asked for so far.
func (fs *fakeServer) mintCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.minted
}

// cursor is what one stream has sent so far.
type cursor struct {
	rev, revs int64
	bundle    []byte
	fed       map[string]int64
}

// next builds the message that brings a stream from c to the current
// state, and advances c. It reports whether the message carries anything.
func (fs *fakeServer) next(agent spiffeid.ID, c *cursor, first bool) (agentproto.Message, bool, syncRecord) {
	bundle := fs.bundleJSON()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	msg := agentproto.Message{Revision: fs.revision}
	if fs.evicted[agent] {
		msg.Evicted = true
		return msg, true, syncRecord{}
	}
	rec := syncRecord{agent: agent, revision: c.rev, revocations: c.revs}
	msg.Full = first && (c.rev == 0 || c.rev < fs.compacted)
	for _, e := range fs.entries {
		if serves(agent, e) && (msg.Full || e.Revision > c.rev) {
			msg.Entries = append(msg.Entries, e)
		}
	}
	if !msg.Full {
		for id, rev := range fs.tombstones {
			if rev > c.rev {
				msg.Deleted = append(msg.Deleted, id)
			}
		}
	}
	if !bytes.Equal(bundle, c.bundle) {
		msg.Bundle, c.bundle = bundle, bundle
	}
	for td, rev := range fs.fedRevision {
		if first || rev > c.fed[td] {
			if msg.Federated == nil {
				msg.Federated = map[string]json.RawMessage{}
			}
			msg.Federated[td] = fs.federated[td]
			c.fed[td] = rev
		}
	}
	var revs []agentproto.Revocation
	for _, r := range fs.revocations {
		if r.Revision > c.revs {
			revs = append(revs, r)
		}
	}
	fullRevs := first && c.revs == 0
	if len(revs) > 0 || fullRevs {
		msg.Revocations = fs.signRevocations(agentproto.RevocationBatch{Revision: int64(len(fs.revocations)),
			Full: fullRevs, Entries: revs, IssuedAt: fs.clock.Now().UTC()})
		c.revs = int64(len(fs.revocations))
	}
	c.rev = fs.revision
	rec.full, rec.entries = msg.Full, len(msg.Entries)
	if first {
		fs.syncs = append(fs.syncs, rec)
		fs.synced.notify()
	}
	changed := first || len(msg.Entries) > 0 || len(msg.Deleted) > 0 || msg.Bundle != nil || msg.Federated != nil || msg.Revocations != ""
	return msg, changed, rec
}

func (fs *fakeServer) sync(w http.ResponseWriter, r *http.Request) {
	agent, ok := fs.agentOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	rev, err1 := strconv.ParseInt(q.Get("revision"), 10, 64)
	revs, err2 := strconv.ParseInt(q.Get("revocations"), 10, 64)
	if err1 != nil || err2 != nil {
		problem(w, http.StatusBadRequest, fmt.Sprintf("bad cursors %q %q", q.Get("revision"), q.Get("revocations")))
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	enc := json.NewEncoder(w)
	c := &cursor{rev: rev, revs: revs, fed: map[string]int64{}}
	fs.mu.Lock()
	hb := fs.heartbeat
	fs.mu.Unlock()
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	for first := true; ; first = false {
		wake := fs.changes.wait()
		msg, changed, _ := fs.next(agent, c, first)
		if changed {
			if enc.Encode(msg) != nil {
				return
			}
			flusher.Flush()
		}
		if msg.Evicted {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-ticker.C:
			fs.mu.Lock()
			silent, cur := fs.silent, fs.revision
			fs.mu.Unlock()
			if !silent {
				if enc.Encode(agentproto.Message{Revision: cur, Heartbeat: true}) != nil {
					return
				}
				flusher.Flush()
			}
		}
	}
}

// rotate runs one CA rotation step and pushes the bundle if it changed.
func (fs *fakeServer) rotate() {
	if err := fs.ca.Rotate(context.Background()); err != nil {
		fs.tb.Fatalf("Rotate: %v", err)
	}
	fs.changes.notify()
}
