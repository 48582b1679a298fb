package ledger

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kith-dev/kith/internal/audit"
)

// TruncatedDetail is the Details key of an event whose text the ledger
// shortened to fit an entry; its value says how long the original
// encoding was.
const TruncatedDetail = "ledger.truncated"

// fit returns ev and its encoding, with its text fields cut, if need be,
// until its entry fits [MaxEntrySize]: each string to the same limit
// (halved until the entry fits), and Details and Trust.Signals to a
// number of items in proportion. A shortened event says so in
// Details[TruncatedDetail]. An audited action thus never fails, and a
// failure is never left unrecorded, because a caller or an attacker made
// its description long; Time, Type, Action and Outcome keep their meaning
// (they are cut only if absurdly long themselves).
func fit(ev audit.Event) (audit.Event, []byte, error) {
	body, err := audit.Marshal(ev)
	if err != nil || len(body)+maxIndexLen <= MaxEntrySize {
		return ev, body, err
	}
	original := len(body)
	for limit := 4096; limit >= 8; limit /= 2 {
		c := clipEvent(ev, limit)
		c.Details[TruncatedDetail] = fmt.Sprintf("encoded event of %d bytes shortened", original)
		if body, err = audit.Marshal(c); err != nil {
			return ev, nil, err
		}
		if len(body)+maxIndexLen <= MaxEntrySize {
			return c, body, nil
		}
	}
	return ev, nil, fmt.Errorf("%w: %s event of %d bytes cannot be shortened", ErrTooLarge, ev.Type, original)
}

// clipEvent returns a copy of ev with every string cut to at most limit
// bytes (on a character boundary), at most limit/16 details and signals.
func clipEvent(ev audit.Event, limit int) audit.Event {
	c := func(s string) string { return clipString(s, limit) }
	out := ev
	out.Type, out.Target, out.Action, out.Reason = c(ev.Type), c(ev.Target), c(ev.Action), c(ev.Reason)
	out.Outcome = audit.Outcome(c(string(ev.Outcome)))
	out.RequestID, out.TraceID = c(ev.RequestID), c(ev.TraceID)
	a := &out.Actor
	a.Kind, a.ID, a.CredentialID, a.CredentialType = c(a.Kind), c(a.ID), c(a.CredentialID), c(a.CredentialType)
	a.Owner, a.BusinessFunction, a.RemoteAddr = c(a.Owner), c(a.BusinessFunction), c(a.RemoteAddr)
	if ev.Policy != nil {
		p := *ev.Policy
		p.Rule = c(p.Rule)
		out.Policy = &p
	}
	items := max(limit/16, 1)
	if ev.Trust != nil {
		t := *ev.Trust
		t.Signals = nil
		for _, s := range ev.Trust.Signals[:min(len(ev.Trust.Signals), items)] {
			t.Signals = append(t.Signals, c(s))
		}
		out.Trust = &t
	}
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out.Details = make(map[string]string, min(len(keys), items)+1)
	for _, k := range keys[:min(len(keys), items)] {
		out.Details[c(k)] = c(ev.Details[k])
	}
	return out
}

// clipString cuts s to at most limit bytes, on a character boundary,
// marking the cut with "…".
func clipString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:max(cut, 0)], "") + "…"
}
