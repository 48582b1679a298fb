package synchub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/await"
	"github.com/kith-dev/kith/internal/store"
	"github.com/kith-dev/kith/internal/synchub"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// checkLeaks fails t if goroutines started during the test outlive it.
// Call it first, so that its cleanup runs after every other.
func checkLeaks(t testing.TB) {
	t.Helper()
	await.NoLeaks(t)
}

// signer "signs" by encoding the payload; verify decodes it.
type signer struct{}

func (signer) SignDocument(typ string, payload []byte) (string, error) {
	return typ + "." + base64.RawURLEncoding.EncodeToString(payload), nil
}

func decodeBatch(t testing.TB, jws string) agentproto.RevocationBatch {
	t.Helper()
	typ, payload, ok := strings.Cut(jws, ".")
	if !ok || typ != agentproto.RevocationsType {
		t.Fatalf("revocations %q: not a %s document", jws, agentproto.RevocationsType)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var b agentproto.RevocationBatch
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// bundles is a settable own bundle and federated bundles.
type bundles struct {
	mu        sync.Mutex
	own       *spiffebundle.Bundle
	changed   chan struct{}
	federated []*spiffebundle.Bundle
}

func newBundles() *bundles {
	b := spiffebundle.New(td)
	b.SetSequenceNumber(1)
	return &bundles{own: b, changed: make(chan struct{})}
}

func (b *bundles) Bundle() *spiffebundle.Bundle {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.own.Clone()
}

func (b *bundles) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

func (b *bundles) Bundles() []*spiffebundle.Bundle {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*spiffebundle.Bundle(nil), b.federated...)
}

// setOwn replaces the own bundle with one of sequence seq.
func (b *bundles) setOwn(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.own = spiffebundle.New(td)
	b.own.SetSequenceNumber(seq)
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *bundles) setFederated(names ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.federated = nil
	for _, n := range names {
		fb := spiffebundle.New(spiffeid.RequireTrustDomainFromString(n))
		fb.SetSequenceNumber(7)
		b.federated = append(b.federated, fb)
	}
}

// env is a running Hub on a SQLite store.
type env struct {
	store   *store.Store
	hub     *synchub.Hub
	bundles *bundles
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newEnv(t testing.TB, mutate ...func(*synchub.Config)) *env {
	t.Helper()
	st, err := store.Open(t.Context(), store.Config{URL: filepath.Join(t.TempDir(), "kith.db")})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, bundles: newBundles()}
	cfg := synchub.Config{Entries: st, Tombstones: st, Revocations: st, Signer: signer{}, Bundle: e.bundles,
		Federated: e.bundles, PollInterval: time.Hour}
	for _, m := range mutate {
		m(&cfg)
	}
	if e.hub, err = synchub.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Go(func() {
		if err := e.hub.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		e.wg.Wait()
		st.Close()
	})
	return e
}

// agentID returns the SPIFFE ID of agent n.
func agentID(n int) spiffeid.ID {
	return spiffeid.RequireFromPath(td, fmt.Sprintf("/kith/agent/%032x", n))
}

// createEntry stores an entry named name under parent (zero: served by
// any agent, the explicit opt-in).
func (e *env) createEntry(t testing.TB, name string, parent spiffeid.ID) store.Entry {
	t.Helper()
	en := store.Entry{ID: name, SPIFFEID: "spiffe://example.org/" + name, Selectors: []string{"unix:uid:1000"}, Status: "active"}
	if !parent.IsZero() {
		en.ParentID = parent.String()
	} else {
		en.AnyAgent = true
	}
	if err := e.store.CreateEntry(t.Context(), &en); err != nil {
		t.Fatal(err)
	}
	return en
}

// stream is an agent's stream whose messages arrive on msgs.
type stream struct {
	msgs chan *agentproto.Message
	// block, if set, is received from before each write but the first.
	block  chan struct{}
	writes int
	err    chan error
	cancel context.CancelFunc
}

func (s *stream) WriteMessage(m *agentproto.Message) error {
	s.writes++
	if s.block != nil && s.writes > 1 {
		<-s.block
	}
	s.msgs <- m
	return nil
}

// open starts a stream for sub; it ends with the test.
func (e *env) open(t testing.TB, sub synchub.Subscription, block chan struct{}) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{msgs: make(chan *agentproto.Message, 1000), block: block, err: make(chan error, 1), cancel: cancel}
	e.wg.Go(func() { s.err <- e.hub.Stream(ctx, sub, s) })
	t.Cleanup(cancel)
	return s
}

// next returns the stream's next message, failing t after 5 seconds.
func (s *stream) next(t testing.TB) *agentproto.Message {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

// none fails t if the stream holds a message.
func (s *stream) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-s.msgs:
		t.Errorf("unexpected message %+v", m)
	default:
	}
}

// ids returns the IDs of entries.
func ids(entries []agentproto.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

// waitStreams waits until the hub has n streams.
func (e *env) waitStreams(t testing.TB, n int) {
	t.Helper()
	waitStats(t, e.hub, fmt.Sprintf("%d streams", n), func(st synchub.Stats) bool { return st.Streams == n })
}

// waitRev waits until the hub has fanned out revision rev.
func waitRev(t testing.TB, e *env, rev int64) {
	t.Helper()
	waitStats(t, e.hub, fmt.Sprintf("revision %d fanned out", rev), func(st synchub.Stats) bool { return st.Revision >= rev })
}

// waitStats waits until cond holds for h's Stats, looking again at each
// change the hub signals, and fails t if it does not within 10s.
func waitStats(t testing.TB, h *synchub.Hub, what string, cond func(synchub.Stats) bool) {
	t.Helper()
	if !await.Signal(10*time.Second, h.StatsChanged, func() bool { return cond(h.Stats()) }) {
		t.Fatalf("timed out waiting for %s: hub stats %+v", what, h.Stats())
	}
}
