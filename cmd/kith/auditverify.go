package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kith-dev/kith/internal/adminclient"
	"github.com/kith-dev/kith/internal/ledger"
)

// verifyFlags are the flags of `kith audit verify`.
type verifyFlags struct {
	key, keyFile, log, state string
}

// runAuditVerify is `kith audit verify`.
func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit verify", "FILE (--key VKEY | --key-file F)\n   or: kith audit verify --log URL [--key VKEY | --key-file F] [--state F] [flags]",
		"Verify an evidence bundle (from kith audit proof) offline: the event is in\n"+
			"the ledger whose checkpoint the key signed. No server is contacted.\n\n"+
			"With --log, walk the whole ledger of the server at URL (https://host:port):\n"+
			"recompute every leaf hash and the tree, check the signed checkpoint and, with\n"+
			"--state, that the log extends the checkpoint verified last time (the file is\n"+
			"then updated). Without a key, the server's own key is used, with a warning.", stderr)
	var f verifyFlags
	fs.StringVar(&f.key, "key", "", "the ledger's verifier key, as kith audit key prints it")
	fs.StringVar(&f.keyFile, "key-file", "", "file holding the verifier key")
	fs.StringVar(&f.log, "log", "", "verify the whole log of the server at this https:// URL")
	fs.StringVar(&f.state, "state", "", "with --log: file of the last verified checkpoint, read if it exists and updated on success")
	cf := addConnFlags(fs)
	pos, err := parseAnyArgs(fs, args)
	if err != nil {
		return err
	}
	if f.key != "" && f.keyFile != "" {
		return usagef(fs, "give --key or --key-file, not both")
	}
	if f.log == "" {
		switch {
		case len(pos) != 1:
			return usagef(fs, "want an evidence FILE, or --log URL")
		case f.state != "":
			return usagef(fs, "--state applies to --log only")
		case f.key == "" && f.keyFile == "":
			return usagef(fs, "--key or --key-file is required to verify evidence offline")
		}
		v, err := readVerifier(f)
		if err != nil {
			return err
		}
		return verifyEvidenceFile(pos[0], v, stdout)
	}
	if len(pos) != 0 {
		return usagef(fs, "--log verifies a whole log; it takes no FILE")
	}
	if cf.o.Addr != "" {
		return usagef(fs, "--log gives the server's address; drop --addr")
	}
	if cf.o.Addr, err = logAddr(f.log); err != nil {
		return usagef(fs, "--log: %v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	v, err := logVerifier(ctx, c, f, stderr)
	if err != nil {
		return err
	}
	return verifyLog(ctx, c.LogSource(), v, f.state, stdout, stderr)
}

// readVerifier returns the verifier of --key or --key-file.
func readVerifier(f verifyFlags) (note.Verifier, error) {
	key, from := f.key, "--key"
	if f.keyFile != "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		key, from = string(b), f.keyFile
	}
	v, err := note.NewVerifier(strings.TrimSpace(key))
	if err != nil {
		return nil, fmt.Errorf("verifier key of %s: %w", from, err)
	}
	return v, nil
}

// logVerifier returns the verifier of --key or --key-file or, failing
// those, of the key the server serves, with a warning on stderr.
func logVerifier(ctx context.Context, c *adminclient.Client, f verifyFlags, stderr io.Writer) (note.Verifier, error) {
	if f.key != "" || f.keyFile != "" {
		return readVerifier(f)
	}
	k, err := c.LedgerKey(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "warning: no --key: using the key the server itself serves (%s).\n"+
		"A log checked against it is only consistent with what this server says now;\n"+
		"pass a key obtained out of band (kith audit key, saved earlier) to prove more.\n", k.VerifierKey)
	v, err := note.NewVerifier(k.VerifierKey)
	if err != nil {
		return nil, fmt.Errorf("verifier key from the server: %w", err)
	}
	return v, nil
}

// logAddr returns the host:port of a log URL such as https://host:8443.
func logAddr(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("want the server's base URL, https://host:port, not %q", s)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443"), nil
	}
	return u.Host, nil
}

// errNotVerified is returned after a FAIL line was printed.
var errNotVerified = errors.New("audit verify: verification failed")

// verifyEvidenceFile checks the evidence bundle at path with v.
func verifyEvidenceFile(path string, v note.Verifier, stdout io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read evidence: %w", err)
	}
	var ev ledger.Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		return fmt.Errorf("read evidence %s: %w", path, err)
	}
	if err := ledger.VerifyEvidence(&ev, v); err != nil {
		fmt.Fprintf(stdout, "FAIL: %s\n", oneLine(err.Error()))
		return errNotVerified
	}
	cp, err := ledger.ParseCheckpoint([]byte(ev.Checkpoint), v)
	if err != nil { // VerifyEvidence has parsed it already
		return fmt.Errorf("evidence checkpoint: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "OK: entry %d is in %s at size %d\n", ev.Index, cp.Origin, cp.Size)
	return err
}

// verifyLog walks the log of src, trusting the checkpoint in the state
// file if there is one, and saves the verified checkpoint there.
func verifyLog(ctx context.Context, src ledger.LogSource, v note.Verifier, state string, stdout, stderr io.Writer) error {
	opt := ledger.VerifyOptions{Verifier: v, Progress: progress(stderr)}
	if state != "" {
		b, err := os.ReadFile(state)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(stderr, "no state in %s yet: verifying from scratch\n", state)
		case err != nil:
			return fmt.Errorf("read state: %w", err)
		default:
			if opt.Trusted, err = ledger.ParseCheckpoint(b, v); err != nil {
				return fmt.Errorf("state %s: %w", state, err)
			}
			fmt.Fprintf(stderr, "trusting the checkpoint of size %d in %s\n", opt.Trusted.Size, state)
		}
	}
	rep, err := ledger.VerifyLog(ctx, src, opt)
	switch {
	case errors.Is(err, ledger.ErrVerificationFailed) && rep != nil && rep.FirstBad >= 0:
		fmt.Fprintf(stdout, "FAIL: first bad entry %d: %s\n", rep.FirstBad, oneLine(rep.Problem))
		return errNotVerified
	case errors.Is(err, ledger.ErrVerificationFailed) && rep != nil:
		fmt.Fprintf(stdout, "FAIL: %s\n", oneLine(rep.Problem))
		return errNotVerified
	case err != nil:
		return fmt.Errorf("verify log: %w", err)
	case rep.Checkpoint == nil:
		return errors.New("verify log: the verifier reported no checkpoint")
	}
	if state != "" {
		if err := writeFileAtomic(state, func(w io.Writer) error {
			_, err := w.Write(rep.Checkpoint.Note)
			return err
		}); err != nil {
			return fmt.Errorf("save state: %w", err)
		}
	}
	_, err = fmt.Fprintf(stdout, "OK: verified %d entries against checkpoint size %d\n", rep.Size, rep.Checkpoint.Size)
	return err
}

// oneLine joins the lines of s, so that a FAIL report stays on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// progress returns a VerifyOptions.Progress that reports on w at most once
// a second, and at the end.
func progress(w io.Writer) func(done, total uint64) {
	var last time.Time
	return func(done, total uint64) {
		if done < total && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "verified %d/%d entries\n", done, total)
	}
}
