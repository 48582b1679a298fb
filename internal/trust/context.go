package trust

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrUnknown is returned for an identity the engine does not know.
var ErrUnknown = errors.New("trust: unknown identity")

// ErrContext is wrapped by the errors of [Engine.AddContext] for an
// invalid input.
var ErrContext = errors.New("trust: invalid context input")

// ContextInput is evidence about a caller from outside its calls: a
// vulnerability in its workload's image, a leaked credential found by a
// scanner, a CAEP or RISC event from a partner (such as
// "credential-change" or "session-revoked"). It takes Weight points from
// the caller's score until it expires or is removed, and its kind is
// listed among the caller's signals as "context.<Kind>". Unlike a signal
// it does not recover with clean behaviour: the outside fact stays true
// until its source says otherwise, or it expires.
type ContextInput struct {
	// ID names the input, unique per identity: an input with the ID of
	// one the identity has replaces it (a feed updates its inputs by ID).
	ID string `json:"id"`
	// Identity is the caller's SPIFFE ID (or client ID).
	Identity string `json:"identity"`
	// Kind is a short dotted name: "vulnerability", "leak",
	// "caep.credential-change", ...
	Kind string `json:"kind"`
	// Reason says why, for people: "CVE-2026-1234 (critical) in image
	// billing:1.4".
	Reason string `json:"reason"`
	// Weight is the points taken from the score, -1000 to 1000; a
	// negative weight raises it (attested good posture), never above
	// MaxScore.
	Weight int `json:"weight"`
	// Expires is when the input stops weighing; required.
	Expires time.Time `json:"expires"`
	// Source names who said so: "scanner", "caep:https://idp.example".
	Source string `json:"source,omitempty"`
	// Added is when the engine took it (set by AddContext).
	Added time.Time `json:"added,omitzero"`
}

// active reports whether the input weighs at sec.
func (in *ContextInput) active(sec uint32) bool {
	return secOf(in.Expires.UnixMilli()) > sec
}

// AddContext adds (or replaces, by ID) a context input and reports the
// Change it makes to the sink. An identity the engine has not seen is
// tracked from now on, its state the starting one minus the input. It
// returns an error wrapping ErrContext for an input without identity, ID,
// kind or reason, with a weight out of range, or that expired already.
func (e *Engine) AddContext(in ContextInput) error {
	switch {
	case in.Identity == "" || in.ID == "" || in.Kind == "" || in.Reason == "":
		return fmt.Errorf("%w: identity, id, kind and reason are required", ErrContext)
	case in.Weight < -MaxScore || in.Weight > MaxScore:
		return fmt.Errorf("%w: weight %d is out of -%d..%d", ErrContext, in.Weight, MaxScore, MaxScore)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Clock()
	if !in.Expires.After(now) {
		return fmt.Errorf("%w: expires %s, which is not after now (%s)", ErrContext, in.Expires.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	sec := secOf(now.UnixMilli())
	i := e.lookup(in.Identity, sec, "")
	cs := e.at(i)
	in.Added = now.UTC()
	id := e.ids[i]
	ins := slices.DeleteFunc(e.contexts[id], func(x ContextInput) bool { return x.ID == in.ID })
	e.contexts[id] = append(ins, in)
	cs.trust.hasCtx = true
	e.reevaluate(i, cs, max(sec, cs.last), "context "+in.Kind)
	return nil
}

// RemoveContext removes identity's context input id and reports the
// Change to the sink. It returns ErrUnknown if there is no such input.
func (e *Engine) RemoveContext(identity, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.index[identity]
	ins := e.contexts[identity]
	j := slices.IndexFunc(ins, func(x ContextInput) bool { return x.ID == id })
	if !ok || j < 0 {
		return ErrUnknown
	}
	ins = slices.Delete(ins, j, j+1)
	cs := e.at(i)
	if len(ins) == 0 {
		delete(e.contexts, identity)
		cs.trust.hasCtx = false
	} else {
		e.contexts[identity] = ins
	}
	e.reevaluate(i, cs, max(secOf(e.cfg.Clock().UnixMilli()), cs.last), "context "+id+" removed")
	return nil
}

// Contexts returns identity's context inputs, expired ones included until
// the next Tick.
func (e *Engine) Contexts(identity string) []ContextInput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.contexts[identity])
}

// expire drops identity's context inputs expired at sec and reports
// whether it dropped any.
func (e *Engine) expire(identity string, sec uint32) bool {
	ins := e.contexts[identity]
	n := len(ins)
	ins = slices.DeleteFunc(ins, func(x ContextInput) bool { return !x.active(sec) })
	if len(ins) == 0 {
		delete(e.contexts, identity)
	} else {
		e.contexts[identity] = ins
	}
	return len(ins) != n
}
