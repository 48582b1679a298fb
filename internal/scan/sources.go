package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/zricethezav/gitleaks/v8/cmd/scm"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/sources"
)

// Kinds of source.
const (
	kindFiles   = "files"
	kindHistory = "history"
	kindStaged  = "staged"
)

// maxDecodeDepth is how many times gitleaks decodes encoded text
// (base64, hex, percent-encoding) looking for secrets inside: its
// command's default.
const maxDecodeDepth = 5

// source is one thing to scan: the files under a path, or the history or
// staged changes of the git work tree at a path.
type source struct {
	path string
	kind string
}

// sourcesOf returns what to scan for path p: its files, and the history
// (or staged changes) when p is the top of a git work tree. It returns an
// error if p does not exist, or if the configuration asks for git history
// that p does not have.
func sourcesOf(ctx context.Context, p string, cfg Config) ([]source, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	top := fi.IsDir() && cfg.History != HistoryNone && isWorkTreeTop(ctx, p)
	switch {
	case cfg.History == HistoryStaged && !top:
		return nil, fmt.Errorf("%w: %s is not the top of a git work tree, so it has no staged changes", ErrConfig, p)
	case cfg.History == HistoryStaged:
		return []source{{p, kindStaged}}, nil
	case cfg.LogOpts != "" && !top:
		return nil, fmt.Errorf("%w: %s is not the top of a git work tree, so git log options do not apply", ErrConfig, p)
	case top:
		return []source{{p, kindFiles}, {p, kindHistory}}, nil
	}
	if fi.IsDir() && cfg.History != HistoryNone {
		cfg.Logger.Debug("no git history scanned: not the top of a git work tree", "path", p)
	}
	return []source{{p, kindFiles}}, nil
}

// isWorkTreeTop reports whether dir is the top folder of a git work tree,
// as git itself says. Without git installed, nothing is.
func isWorkTreeTop(ctx context.Context, dir string) bool {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return false
	}
	top, err1 := filepath.EvalSymlinks(string(bytes.TrimSpace(out)))
	abs, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	abs, err = filepath.EvalSymlinks(abs)
	return err == nil && abs == top
}

// detect runs a fresh gitleaks detector with rules rs over the source and
// returns its findings, without those that are not secrets.
func (s source) detect(ctx context.Context, rs config.Config, cfg Config) ([]Finding, error) {
	d := detect.NewDetectorContext(ctx, rs)
	d.MaxDecodeDepth = maxDecodeDepth
	var src sources.Source
	switch s.kind {
	case kindFiles:
		src = &sources.Files{Path: s.path, Config: &d.Config, Sema: d.Sema, MaxFileSize: int(max(cfg.MaxFileSize, 0))}
	case kindHistory, kindStaged:
		var cmd *sources.GitCmd
		var err error
		if s.kind == kindHistory {
			cmd, err = sources.NewGitLogCmdContext(ctx, s.path, cfg.LogOpts)
		} else {
			cmd, err = sources.NewGitDiffCmdContext(ctx, s.path, true)
		}
		if err != nil {
			return nil, fmt.Errorf("run git: %w", err)
		}
		src = &sources.Git{Cmd: cmd, Config: &d.Config, Sema: d.Sema, Remote: &sources.RemoteInfo{Platform: scm.NoPlatform}}
	}
	tap := &errorTap{Source: src}
	found, err := d.DetectSource(ctx, tap)
	if err == nil {
		err = tap.err()
	}
	if err != nil {
		return nil, err
	}
	out := make([]Finding, 0, len(found))
	for i := range found {
		if f, ok := fromGitleaks(&found[i], s.path, s.kind != kindFiles); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// errorTap passes a source's fragments on, keeping the errors that come
// with them: gitleaks logs them and goes on, so a git command that failed
// would otherwise look like a history without secrets.
type errorTap struct {
	sources.Source
	mu   sync.Mutex
	errs []error
}

// Fragments yields the source's fragments, noting their errors.
func (t *errorTap) Fragments(ctx context.Context, yield sources.FragmentsFunc) error {
	return t.Source.Fragments(ctx, func(f sources.Fragment, err error) error {
		if err != nil {
			t.mu.Lock()
			t.errs = append(t.errs, err)
			t.mu.Unlock()
		}
		return yield(f, err)
	})
}

// err is the errors the source reported, if any.
func (t *errorTap) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.errs) == 0 {
		return nil
	}
	return fmt.Errorf("git failed (its message is above): %w", errors.Join(t.errs...))
}
