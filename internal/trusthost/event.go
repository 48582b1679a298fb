package trusthost

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/trust"
)

// callOf returns the call of a call.decided event (see
// callrecord.Record.Event): the caller (or its OAuth client), the
// credential, the source address (the actor's remote address), the
// reporting node, and the request line, status, sizes, latency and
// decision from the action and details.
func callOf(ev *audit.Event) trust.Call {
	d := ev.Details
	c := trust.Call{Time: ev.Time, Caller: ev.Actor.ID, Credential: ev.Actor.CredentialID,
		CredentialType: ev.Actor.CredentialType, Target: ev.Target, Decision: d["decision"], Node: d["reported_by"]}
	if a, err := netip.ParseAddr(ev.Actor.RemoteAddr); err == nil {
		c.Source = a
	}
	if method, route, ok := strings.Cut(ev.Action, " "); ok {
		c.Method = method
		// The action names the route template, or the path without one;
		// the path is in the details only when it differs from the route.
		if p, ok := d["path"]; ok {
			c.Route, c.Path = route, p
		} else {
			c.Path = route
		}
	} else if ev.Action != "call" {
		c.Method = ev.Action
	}
	c.Status, _ = strconv.Atoi(d["status"])
	c.ReqBytes, _ = strconv.ParseInt(d["bytes_in"], 10, 64)
	c.RespBytes, _ = strconv.ParseInt(d["bytes_out"], 10, 64)
	us, _ := strconv.ParseInt(d["latency_us"], 10, 64)
	c.Latency = time.Duration(us) * time.Microsecond
	return c
}

// ClearEvent returns the ledger event of an admin (actor) clearing
// identity's trust, with the admin's reason: the record of the action,
// which every replica's engine applies when it reads it.
func ClearEvent(actor audit.Actor, identity, reason string) audit.Event {
	ev := audit.Event{Type: audit.TypeTrustCleared, Actor: actor, Target: identity, Action: "clear",
		Outcome: audit.OutcomeSuccess, Reason: reason}
	return ev
}

// ContextAddedEvent returns the ledger event of an admin (actor) adding
// or replacing a context input: its fields are in the details.
func ContextAddedEvent(actor audit.Actor, in trust.ContextInput) audit.Event {
	return audit.Event{Type: audit.TypeTrustContextAdded, Actor: actor, Target: in.Identity, Action: "add context",
		Outcome: audit.OutcomeSuccess, Reason: in.Reason,
		Details: map[string]string{"id": in.ID, "kind": in.Kind, "weight": strconv.Itoa(in.Weight),
			"expires": in.Expires.UTC().Format(time.RFC3339Nano), "source": in.Source}}
}

// ContextRemovedEvent returns the ledger event of an admin (actor)
// removing identity's context input id.
func ContextRemovedEvent(actor audit.Actor, identity, id string) audit.Event {
	return audit.Event{Type: audit.TypeTrustContextRemoved, Actor: actor, Target: identity, Action: "remove context",
		Outcome: audit.OutcomeSuccess, Details: map[string]string{"id": id}}
}

// contextOf returns the context input of a trust.context_added event.
func contextOf(ev *audit.Event) trust.ContextInput {
	d := ev.Details
	in := trust.ContextInput{ID: d["id"], Identity: ev.Target, Kind: d["kind"], Reason: ev.Reason, Source: d["source"]}
	in.Weight, _ = strconv.Atoi(d["weight"])
	in.Expires, _ = time.Parse(time.RFC3339Nano, d["expires"])
	if in.Source == "" {
		in.Source = ev.Actor.ID
	}
	return in
}
