package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/ledger"
)

// checkpointPoll is how often audit checkpoint --wait asks the server.
const checkpointPoll = 200 * time.Millisecond

// parseIndex parses the event index argument s of the command of fs.
func parseIndex(fs *flag.FlagSet, s string) (uint64, error) {
	i, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usagef(fs, "INDEX must be an event index such as 7, not %q", s)
	}
	return i, nil
}

// runAuditShow is `kith audit show`.
func runAuditShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit show", "INDEX [flags]",
		"Show the event at INDEX as stored in the ledger: its canonical JSON\n"+
			"(pretty-printed) and its RFC 6962 leaf hash.", stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	index, err := parseIndex(fs, pos[0])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	page, err := c.LedgerEntries(ctx, index, index+1)
	if err != nil {
		return err
	}
	if len(page.Entries) != 1 || page.Entries[0].Index != index {
		return fmt.Errorf("get ledger entry %d: the server returned %d entries", index, len(page.Entries))
	}
	e := page.Entries[0]
	if cf.json() {
		return cf.encode(stdout, e)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, e.Data, "", "  "); err != nil {
		return fmt.Errorf("entry %d is not JSON: %w", index, err)
	}
	_, err = fmt.Fprintf(stdout, "index:     %d\nleaf hash: %s\n%s\n", e.Index, hex.EncodeToString(e.LeafHash), pretty.Bytes())
	return err
}

// runAuditCheckpoint is `kith audit checkpoint`.
func runAuditCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit checkpoint", "[--wait DURATION] [flags]",
		"Print the ledger's latest signed checkpoint (a C2SP signed note) as is; with\n"+
			"-o json, its origin, size and root hash (hex) too, once checked with the key\n"+
			"the server serves. With --wait, first wait up to DURATION for a checkpoint\n"+
			"that covers every event recorded so far.", stderr)
	var wait time.Duration
	durationVar(fs, &wait, "wait", 0, "wait up to this long for a checkpoint covering the current ledger, a `duration` such as 10s")
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if wait < 0 {
		return usagef(fs, "--wait must not be negative")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var cp []byte
	if wait > 0 {
		wctx, cancel := context.WithTimeoutCause(ctx, wait, fmt.Errorf("no checkpoint within %v", wait))
		defer cancel()
		cp, err = c.WaitCheckpoint(wctx, checkpointPoll)
	} else {
		cp, err = c.Checkpoint(ctx)
		if errors.Is(err, ledger.ErrNoCheckpoint) {
			err = fmt.Errorf("%w (or use --wait)", err)
		}
	}
	if err != nil {
		return err
	}
	if cf.json() {
		return writeCheckpointJSON(ctx, c, cp, stdout, cf.output)
	}
	_, err = stdout.Write(cp)
	return err
}

// checkpointJSON is a checkpoint in `kith audit checkpoint -o json`.
type checkpointJSON struct {
	Origin     string `json:"origin"`
	Size       uint64 `json:"size"`
	RootHash   string `json:"root_hash"`  // hex
	Checkpoint string `json:"checkpoint"` // the signed note, as served
}

// writeCheckpointJSON prints the signed checkpoint cp as JSON, once it
// has checked it with the key the server serves.
func writeCheckpointJSON(ctx context.Context, c *adminclient.Client, cp []byte, stdout io.Writer, format string) error {
	k, err := c.LedgerKey(ctx)
	if err != nil {
		return err
	}
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		return fmt.Errorf("verifier key from the server: %w", err)
	}
	parsed, err := ledger.ParseCheckpoint(cp, v)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return writeAs(stdout, format, checkpointJSON{Origin: parsed.Origin, Size: parsed.Size, RootHash: hex.EncodeToString(parsed.Root), Checkpoint: string(cp)})
}

// runAuditKey is `kith audit key`.
func runAuditKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit key", "[flags]",
		"Print the verifier key of the ledger's checkpoints, the argument of\n"+
			"kith audit verify --key. With -o json, print its origin too. Keep a copy\n"+
			"obtained now: a key fetched later from the server proves less.", stderr)
	cf := addClientFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	k, err := c.LedgerKey(ctx)
	if err != nil {
		return err
	}
	if cf.json() {
		return cf.encode(stdout, k)
	}
	_, err = fmt.Fprintln(stdout, k.VerifierKey)
	return err
}

// runAuditProof is `kith audit proof`.
func runAuditProof(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit proof", "INDEX [flags] > FILE",
		"Print the evidence bundle of the event at INDEX: the event, its inclusion\n"+
			"proof and the signed checkpoint it leads to, as one line of JSON. Anyone\n"+
			"with the ledger's key can check it offline: kith audit verify FILE --key KEY.", stderr)
	cf := addConnFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	index, err := parseIndex(fs, pos[0])
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	ev, err := c.Evidence(ctx, index)
	if err != nil {
		return err
	}
	// Compact and unescaped, so that the entry keeps its exact leaf bytes.
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("write evidence: %w", err)
	}
	return nil
}
