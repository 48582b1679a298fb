// Package scan finds hard-coded credentials in files and in git history:
// `kith scan`. Detection is gitleaks' (its Go library and its default
// rules: cloud keys, source-host tokens, chat tokens, private keys and
// some two hundred more), plus a rule for Kith's own client secrets that
// reports one only when its checksum is valid, so look-alikes
// (placeholders, test strings, typos) are not reported.
//
// A Kith secret found is, when a [Checker] is given (the admin API),
// checked against the server: which client holds it and whether it still
// works; with Revoke, the server revokes it at once and records the leak
// in the ledger. The report is written as a table, JSON or SARIF 2.1.0.
//
// The package reads files and runs git; it never prints a secret, nor
// keeps one it cannot check (only Kith secrets are kept, as
// [oauth.Secret], until checked). gitleaks logs through a logger of its
// own package: the first scan sets it to warnings (a file it could not
// read, a git error) on standard error.
package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
)

// Config configures a scan. Zero values are documented defaults.
type Config struct {
	// Paths are the files and folders to scan; at least one. A folder
	// at the top of a git work tree has its history scanned too (see
	// History).
	Paths []string
	// History says which git history is scanned for a path at the top
	// of a git work tree: every commit of every branch (HistoryAll, the
	// default), none (HistoryNone), or only the changes staged for the
	// next commit (HistoryStaged, for a pre-commit hook, which then
	// scans no file either).
	History History
	// LogOpts, if set, replaces the git log options that select commits
	// (default "--full-history --all"), such as "main..HEAD" for the
	// commits of a branch; words are separated by spaces.
	LogOpts string
	// MaxFileSize skips files larger than this many bytes; 0 means
	// DefaultMaxFileSize, negative means no limit.
	MaxFileSize int64
	// Checker, if set, checks each Kith secret found against the server;
	// nil leaves them unchecked.
	Checker Checker
	// Revoke has the server revoke each live Kith secret found, and
	// record the leak. It needs a Checker.
	Revoke bool
	// Logger receives the scan's own logs; nil discards them.
	Logger *slog.Logger
}

// History selects the git history scanned: see [Config.History].
type History int

// The kinds of history scan.
const (
	HistoryAll History = iota
	HistoryNone
	HistoryStaged
)

// DefaultMaxFileSize is the largest file scanned when
// [Config.MaxFileSize] is zero.
const DefaultMaxFileSize = 25 << 20

// ErrConfig is wrapped by the errors of [Scan] for an invalid [Config].
var ErrConfig = errors.New("scan: invalid configuration")

// Report is what a scan found.
type Report struct {
	// Findings are the secrets found, in file, line and commit order.
	Findings []Finding
	// Sources are what was scanned, in the order of the paths.
	Sources []Source
}

// Source is one thing a scan read: the files under a path, or the
// history or staged changes of the git work tree at a path.
type Source struct {
	// Path is the path as given.
	Path string `json:"path"`
	// Kind is "files", "history" or "staged".
	Kind string `json:"kind"`
}

// Scan scans cfg.Paths and returns what it found. Kith secrets are checked
// (and revoked) through cfg.Checker when one is given; a failed check is
// reported on its findings and returned, joined, after the scan. It
// returns an error wrapping [ErrConfig] for an invalid configuration, and
// an error if a path cannot be read or git fails.
func Scan(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	quietGitleaks(os.Stderr)
	rs, err := rules()
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, p := range cfg.Paths {
		srcs, err := sourcesOf(ctx, p, cfg)
		if err != nil {
			return nil, err
		}
		for _, src := range srcs {
			fs, err := src.detect(ctx, rs, cfg)
			if err != nil {
				return nil, fmt.Errorf("scan %s (%s): %w", src.path, src.kind, err)
			}
			rep.Findings = append(rep.Findings, fs...)
			rep.Sources = append(rep.Sources, Source{Path: src.path, Kind: src.kind})
		}
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Commit, b.Commit), cmp.Compare(a.RuleID, b.RuleID))
	})
	return rep, checkKith(ctx, rep.Findings, cfg)
}

func (cfg *Config) validate() error {
	switch {
	case len(cfg.Paths) == 0:
		return fmt.Errorf("%w: no path to scan", ErrConfig)
	case cfg.Revoke && cfg.Checker == nil:
		return fmt.Errorf("%w: revoking needs a server to check secrets with", ErrConfig)
	case cfg.History < HistoryAll || cfg.History > HistoryStaged:
		return fmt.Errorf("%w: unknown history mode %d", ErrConfig, cfg.History)
	case cfg.LogOpts != "" && cfg.History != HistoryAll:
		return fmt.Errorf("%w: git log options need the history scanned", ErrConfig)
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
