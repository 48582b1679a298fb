package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The data folder holds the database, the key-encryption key and the
// admin token: whoever reads it can decrypt the CA's keys and act as
// admin, and whoever writes it can swap them. The server makes it private
// to its own user before reading or writing anything there, and refuses
// to start where it cannot do that safely:
//
//   - a folder owned by another user, or that group or others may write
//     to, is refused (anyone who can write there may have replaced its
//     files);
//   - a file that group or others could read or write through the
//     folder's mode is refused, except the public client files
//     (server.json, bundle.pem), which are tightened: its contents may have
//     been copied or altered, and only the operator can judge that;
//   - anything looser that no one else could reach (a 0644 file in a 0700
//     folder, as every earlier version of Kith created kith.db) is
//     tightened to 0600, and a folder others may only list or enter (0755)
//     to 0700, with a warning.
//
// New files are created 0600 and the folder 0700. Subfolders (kith dev
// keeps its agent's data in one) are left to their owners. On Windows,
// whose permissions are ACLs rather than mode bits, nothing is checked.

// publicDataFiles are the data folder's files that hold no secret: the
// server's address and the trust bundle, for the CLI.
var publicDataFiles = map[string]bool{"server.json": true, "bundle.pem": true}

// DataDirError reports a data folder, or a file in it, that the server
// refuses to use because others may have read or changed it.
type DataDirError struct {
	// Path is the folder or file at fault.
	Path string
	// Problem says what is wrong, Fix what to do about it.
	Problem, Fix string
}

// Error says what is wrong and how to fix it.
func (e *DataDirError) Error() string {
	return fmt.Sprintf("data folder: %s %s; %s", e.Path, e.Problem, e.Fix)
}

// prepareDataDir creates dir with mode 0700 if it does not exist, then
// checks and tightens it and its files as described above. It returns a
// *DataDirError for a folder or file it refuses, or the error of the file
// system.
func prepareDataDir(dir string, logger *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data folder: %s is not a folder", dir)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		return &DataDirError{Path: dir, Problem: fmt.Sprintf("is owned by user %d, not by the server's user %d", uid, os.Geteuid()),
			Fix: "give the server a folder of its own (a subfolder it creates is made private to it), or chown it to the server's user"}
	}
	dirMode := fi.Mode().Perm()
	if dirMode&0o022 != 0 {
		return &DataDirError{Path: dir, Problem: fmt.Sprintf("is writable by group or others (mode %04o): they may have replaced its files", dirMode),
			Fix: fmt.Sprintf("check its files, then run: chmod 700 %s (or give the server a new subfolder, which it creates with mode 0700)", dir)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	for _, e := range entries {
		if err := checkDataFile(dir, dirMode, e, logger); err != nil {
			return err
		}
	}
	if dirMode&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data folder: tighten %s: %w", dir, err)
		}
		logger.Warn("data folder: group or others could list it; made it private (mode 0700)",
			"path", dir, "was", fmt.Sprintf("%04o", dirMode))
	}
	return nil
}

// checkDataFile checks one entry of the data folder, whose mode is dirMode.
func checkDataFile(dir string, dirMode fs.FileMode, e fs.DirEntry, logger *slog.Logger) error {
	path := filepath.Join(dir, e.Name())
	fi, err := os.Stat(path) // follows a symbolic link: the target is what matters
	if errors.Is(err, fs.ErrNotExist) {
		return nil // gone meanwhile, or a dangling link
	}
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil // subfolders and sockets belong to their owners
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if exposed := reachable(dirMode, mode); exposed != 0 && !publicDataFiles[e.Name()] {
		what := "readable"
		if exposed&0o022 != 0 {
			what = "writable"
		}
		return &DataDirError{Path: path,
			Problem: fmt.Sprintf("is %s by group or others (mode %04o, in a folder of mode %04o): its contents may have been copied or changed", what, mode, dirMode),
			Fix:     fmt.Sprintf("if no one else can have reached it, run: chmod 600 %s && chmod 700 %s; otherwise treat the keys and tokens it holds as exposed", path, dir)}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("data folder: tighten %s: %w", path, err)
	}
	logger.Info("data folder: made a file private (mode 0600)", "path", path, "was", fmt.Sprintf("%04o", mode))
	return nil
}

// reachable returns the permission bits of a file of mode mode that group
// or others can use through a folder of mode dirMode: those of the group
// if it may enter the folder, and those of others if they may.
func reachable(dirMode, mode fs.FileMode) fs.FileMode {
	var bits fs.FileMode
	if dirMode&0o010 != 0 {
		bits |= mode & 0o070
	}
	if dirMode&0o001 != 0 {
		bits |= mode & 0o007
	}
	return bits
}

// checkPrivateFile refuses a file outside the data folder that holds
// secrets (the SQLite database, the key-encryption key) if group or
// others may write it, or others may read it; group read is allowed for a
// file owned by root (a secret mounted by the system for a service group,
// as PostgreSQL allows for its key files). A missing file is fine: the
// server creates it 0600.
func checkPrivateFile(path string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm()
	allowed := fs.FileMode(0)
	if uid, ok := fileOwner(fi); ok && uid == 0 {
		allowed = 0o040
	}
	if mode&0o077&^allowed != 0 {
		return &DataDirError{Path: path, Problem: fmt.Sprintf("may be accessed by group or others (mode %04o)", mode),
			Fix: fmt.Sprintf("run: chmod 600 %s, and treat what it holds as exposed if others may have read it", path)}
	}
	return nil
}

// checkPrivateFiles checks the secret files cfg places outside the data
// folder: the key-encryption key and a SQLite database elsewhere, with its
// write-ahead log and shared-memory files.
func checkPrivateFiles(cfg Config) error {
	var paths []string
	if !inDir(cfg.DataDir, cfg.KEKFile) {
		paths = append(paths, cfg.KEKFile)
	}
	if db := sqlitePath(cfg.StoreURL); db != "" && !inDir(cfg.DataDir, db) {
		paths = append(paths, db, db+"-wal", db+"-shm", db+"-journal")
	}
	for _, p := range paths {
		if err := checkPrivateFile(p); err != nil {
			return err
		}
	}
	return nil
}

// inDir reports whether path is directly in dir.
func inDir(dir, path string) bool {
	a, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(filepath.Dir(path))
	return err1 == nil && err2 == nil && a == b
}

// sqlitePath returns the file of a SQLite store URL, or "" for none or
// PostgreSQL.
func sqlitePath(url string) string {
	lower := strings.ToLower(url)
	if url == "" || strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return ""
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(url, "sqlite:"), "?")
	if rest, ok := strings.CutPrefix(path, "//"); ok {
		path = rest
	}
	return path
}
