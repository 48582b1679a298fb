package adminclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kith-dev/kith/api"
)

// ErrNoEntry is matched by the error of [Client.ResolveEntry] when no entry
// has the SPIFFE ID it was given.
var ErrNoEntry = errors.New("no such entry")

// AmbiguousEntryError is the error of [Client.ResolveEntry] when several
// entries carry the SPIFFE ID it was given: the caller must name one by
// its ID.
type AmbiguousEntryError struct {
	// SPIFFEID is the name given.
	SPIFFEID string
	// Entries are the entries that carry it.
	Entries []api.Entry
}

// Error names the SPIFFE ID and lists the entries, one a line, with what
// tells them apart: parent and selectors.
func (e *AmbiguousEntryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s names %d entries; give the ID of one:", e.SPIFFEID, len(e.Entries))
	for _, en := range e.Entries {
		parent := en.ParentID
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(&b, "\n  %s  parent %s  selectors %s", en.ID, parent, strings.Join(en.Selectors, ","))
	}
	return b.String()
}

// IsSPIFFEID reports whether ref names an entry by SPIFFE ID rather than
// by entry ID.
func IsSPIFFEID(ref string) bool { return strings.HasPrefix(ref, "spiffe://") }

// maxAmbiguous is how many entries sharing a SPIFFE ID ResolveEntry reads
// to list them.
const maxAmbiguous = 20

// ResolveEntry returns the entry ID that ref names: ref itself if it is an
// entry ID, or the ID of the one entry whose SPIFFE ID is ref. It does not
// check that an entry ID exists; the call that uses it does. It returns an
// error wrapping [ErrNoEntry] if no entry has the SPIFFE ID, an
// [*AmbiguousEntryError] if several have it, or the error of listing
// entries.
func (c *Client) ResolveEntry(ctx context.Context, ref string) (string, error) {
	if !IsSPIFFEID(ref) {
		return ref, nil
	}
	page, err := c.ListEntries(ctx, EntryFilter{SPIFFEID: ref, Limit: maxAmbiguous})
	if err != nil {
		return "", err
	}
	switch len(page.Entries) {
	case 0:
		return "", noEntryError(ref)
	case 1:
		return page.Entries[0].ID, nil
	}
	return "", &AmbiguousEntryError{SPIFFEID: ref, Entries: page.Entries}
}

// noEntryError is ResolveEntry's error for a SPIFFE ID no entry has.
type noEntryError string

func (e noEntryError) Error() string        { return "no entry has SPIFFE ID " + string(e) }
func (e noEntryError) Is(target error) bool { return target == ErrNoEntry }
