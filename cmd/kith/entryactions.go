package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// runEntryRevoke is `kith entry revoke`.
func runEntryRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEntryRevocation(ctx, "revoke", "[flags] ID|SPIFFE-ID",
		"Revoke every credential issued so far for the entry's SPIFFE ID. The entry stays\n"+
			"active: its workloads obtain fresh credentials through their agent.",
		(*adminclient.Client).RevokeEntry, args, stdout, stderr)
}

// runEntryQuarantine is `kith entry quarantine`.
func runEntryQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runEntryRevocation(ctx, "quarantine", "[flags] ID|SPIFFE-ID",
		"Quarantine an entry: no credential is issued for it until 'kith entry release',\n"+
			"and every credential issued so far for its SPIFFE ID is revoked.",
		(*adminclient.Client).QuarantineEntry, args, stdout, stderr)
}

// runEntryRevocation runs an entry action that revokes credentials.
func runEntryRevocation(ctx context.Context, name, synopsis, summary string,
	call func(*adminclient.Client, context.Context, string) (*api.EntryRevocation, error),
	args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "entry "+name, synopsis, summary, args, stdout, stderr, byEntryRef(call), func(w io.Writer, rev *api.EntryRevocation) {
		fmt.Fprintf(w, "Entry %s (%s) is %s. Credentials of its SPIFFE ID issued until %s are revoked;\nthe revocation is kept until %s, when all of them have expired.\n",
			rev.Entry.ID, rev.Entry.SPIFFEID, orDash(rev.Entry.Status), timeText(rev.RevokedAt), timeText(rev.ExpiresAt))
	})
}

// runEntryRelease is `kith entry release`.
func runEntryRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runOnID(ctx, "entry release", "[flags] ID|SPIFFE-ID",
		"Release a quarantined (or disabled) entry: credentials are issued for it again.\n"+
			"Credentials revoked before stay revoked.", args, stdout, stderr,
		byEntryRef((*adminclient.Client).ReleaseEntry), writeEntry)
}
