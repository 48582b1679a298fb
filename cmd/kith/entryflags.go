package main

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kith-dev/kith/api"
)

// stringList is a repeatable string flag; with split, a value is also a
// comma-separated list.
type stringList struct {
	vs    []string
	split bool
}

func (l *stringList) String() string { return strings.Join(l.vs, ",") }

// Set appends v (or its comma-separated items).
func (l *stringList) Set(v string) error {
	items := []string{v}
	if l.split {
		items = strings.Split(v, ",")
	}
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			l.vs = append(l.vs, it)
		}
	}
	return nil
}

// labelMap is a repeatable key=value flag.
type labelMap map[string]string

func (m labelMap) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// Set adds one key=value label.
func (m labelMap) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q is not key=value", v)
	}
	m[k] = val
	return nil
}

// entryFlags are the flags that set the fields of an entry, shared by
// entry create and entry update.
type entryFlags struct {
	spiffeID, parent, owner, function, description, status string
	selectors, scopes                                      stringList
	labels                                                 labelMap
	x509TTL, jwtTTL                                        time.Duration
	clearScopes, clearLabels                               bool
}

// addEntryFlags registers the entry flags on fs; update adds the --clear-
// flags and changes the help of the list flags to say they replace.
func addEntryFlags(fs *flag.FlagSet, update bool) *entryFlags {
	f := &entryFlags{labels: labelMap{}, scopes: stringList{split: true}}
	verb := "add"
	if update {
		verb = "replace all with"
	}
	fs.StringVar(&f.spiffeID, "spiffe-id", "", "SPIFFE ID given to matching workloads, such as spiffe://example.org/web")
	fs.Var(&f.selectors, "selector", verb+" a selector type:value, such as unix:uid:1000 (repeatable; all must match)")
	fs.StringVar(&f.parent, "parent", "", `SPIFFE ID of the agent that may serve the entry; "any" lets every agent serve it (one compromised node then yields the identity); "none" or empty: no agent, SVIDs only through kith svid mint and OAuth clients (default none)`)
	fs.StringVar(&f.owner, "owner", "", "person or team accountable for the workload")
	fs.StringVar(&f.function, "business-function", "", "what the workload is for")
	fs.StringVar(&f.description, "description", "", "free text")
	fs.Var(&f.scopes, "max-scope", verb+" the OAuth scopes the entry may at most hold (repeatable or comma list)")
	durationVar(fs, &f.x509TTL, "x509-ttl", 0, "X509-SVID lifetime, a `duration` such as 1h or 7d (0: server default)")
	durationVar(fs, &f.jwtTTL, "jwt-ttl", 0, "JWT-SVID lifetime, a `duration` such as 5m or 1h (0: server default)")
	fs.Var(f.labels, "label", verb+" a label key=value (repeatable)")
	fs.StringVar(&f.status, "status", "", "active, disabled or quarantined (default active)")
	if update {
		fs.BoolVar(&f.clearScopes, "clear-max-scopes", false, "remove all max scopes")
		fs.BoolVar(&f.clearLabels, "clear-labels", false, "remove all labels")
	}
	return f
}

// apply sets on e the fields whose flags were given on fs, and returns how
// many it set. The list flags replace the lists of e.
func (f *entryFlags) apply(fs *flag.FlagSet, e *api.Entry) int {
	n := 0
	fs.Visit(func(fl *flag.Flag) {
		n++
		switch fl.Name {
		case "spiffe-id":
			e.SPIFFEID = f.spiffeID
		case "selector":
			e.Selectors = f.selectors.vs
		case "parent":
			e.ParentID, e.AnyAgent = parentFlag(f.parent)
		case "owner":
			e.Owner = f.owner
		case "business-function":
			e.BusinessFunction = f.function
		case "description":
			e.Description = f.description
		case "max-scope":
			e.MaxScopes = f.scopes.vs
		case "clear-max-scopes":
			if f.clearScopes && !isSet(fs, "max-scope") {
				e.MaxScopes = nil
			}
		case "x509-ttl":
			e.X509SVIDTTL = api.Duration(f.x509TTL)
		case "jwt-ttl":
			e.JWTSVIDTTL = api.Duration(f.jwtTTL)
		case "label":
			e.Labels = f.labels
		case "clear-labels":
			if f.clearLabels && !isSet(fs, "label") {
				e.Labels = nil
			}
		case "status":
			e.Status = f.status
		default:
			n-- // a common client flag, not an entry field
		}
	})
	return n
}

// parentFlag maps --parent to the entry's parent and any-agent opt-in:
// "any" for every agent, "none" or "" for no agent, else an agent's ID.
func parentFlag(v string) (parent string, anyAgent bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "any":
		return "", true
	case "none", "":
		return "", false
	}
	return v, false
}

// isSet reports whether the flag name was given on fs.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
