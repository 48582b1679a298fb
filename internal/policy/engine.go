package policy

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Config configures an [Engine]. Zero values are documented defaults.
type Config struct {
	// CostLimit bounds the CEL cost of one condition on one call;
	// [DefaultCostLimit] when zero.
	CostLimit uint64
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Engine holds the current compiled policy set of a proxy or an SDK
// middleware. [Engine.Decide] is lock-free; [Engine.Load] compiles a new
// revision and swaps it in atomically, so that every decision sees one
// whole revision. An Engine is safe for concurrent use.
type Engine struct {
	cfg Config
	set atomic.Pointer[Set]
}

// New returns an Engine holding an empty set (revision 0): until a set is
// loaded no target is protected. It returns no error today; the signature
// leaves room for validating Config.
func New(cfg Config) (*Engine, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	e := &Engine{cfg: cfg}
	s, err := Compile(nil, e.options(0))
	if err != nil {
		return nil, err
	}
	e.set.Store(s)
	return e, nil
}

func (e *Engine) options(rev int64) CompileOptions {
	return CompileOptions{Revision: rev, CostLimit: e.cfg.CostLimit, Clock: e.cfg.Clock}
}

// Load compiles docs as revision rev and makes it current. A revision
// older than the current one is ignored, so that messages arriving out of
// order never roll policies back. It returns the [ErrorList] of
// [Compile]; the current set is kept then.
func (e *Engine) Load(rev int64, docs []Document) error {
	s, err := Compile(docs, e.options(rev))
	if err != nil {
		return fmt.Errorf("policy: revision %d: %w", rev, err)
	}
	for {
		cur := e.set.Load()
		if cur.revision > rev {
			return nil
		}
		if e.set.CompareAndSwap(cur, s) {
			return nil
		}
	}
}

// LoadJSON decodes documents in their JSON form (as the sync stream
// carries them) and loads them as revision rev. It returns a decoding
// error or the errors of [Engine.Load].
func (e *Engine) LoadJSON(rev int64, documents []byte) error {
	docs, err := UnmarshalDocuments(documents)
	if err != nil {
		return err
	}
	return e.Load(rev, docs)
}

// Set returns the current set.
func (e *Engine) Set() *Set { return e.set.Load() }

// Revision returns the revision of the current set.
func (e *Engine) Revision() int64 { return e.set.Load().revision }

// Decide decides the call in with the current set; see [Set.Decide].
func (e *Engine) Decide(in *Input) Decision { return e.set.Load().Decide(in) }
