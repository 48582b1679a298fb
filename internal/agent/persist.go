package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// Files in the data folder.
const (
	stateFileName = "state.json"     // the cache: entries, bundles, revocations, cursors
	keyFileName   = "agent-key.pem"  // the agent's private key (PKCS#8), 0600
	svidFileName  = "agent-svid.pem" // the agent's X509-SVID chain
)

// stateFileVersion is the format version of state.json.
const stateFileVersion = 1

// stateFile is the persisted form of the state.
type stateFile struct {
	Version             int                        `json:"version"`
	TrustDomain         string                     `json:"trust_domain"`
	Revision            int64                      `json:"revision"`
	RevocationsRevision int64                      `json:"revocations_revision"`
	Entries             []agentproto.Entry         `json:"entries"`
	Bundle              json.RawMessage            `json:"bundle,omitempty"`
	Federated           map[string]json.RawMessage `json:"federated,omitempty"`
	Revocations         []agentproto.Revocation    `json:"revocations,omitempty"`
	Plane               *planeData                 `json:"plane,omitempty"`
	SavedAt             time.Time                  `json:"saved_at"`
}

// snapshot returns the persisted form of the state.
func (s *state) snapshot() (*stateFile, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := &stateFile{Version: stateFileVersion, TrustDomain: s.td.Name(), Revision: s.revision,
		RevocationsRevision: s.revRevision, SavedAt: s.clock().UTC()}
	for _, e := range s.entries {
		f.Entries = append(f.Entries, e)
	}
	if s.bundle != nil {
		b, err := s.bundle.Marshal()
		if err != nil {
			return nil, fmt.Errorf("marshal bundle: %w", err)
		}
		f.Bundle = b
	}
	for td, fb := range s.federated {
		b, err := fb.Marshal()
		if err != nil {
			return nil, fmt.Errorf("marshal bundle of %s: %w", td, err)
		}
		if f.Federated == nil {
			f.Federated = map[string]json.RawMessage{}
		}
		f.Federated[td.Name()] = b
	}
	revs, _ := s.revoked.Load().Since(0)
	f.Revocations = wireRevocations(revs)
	plane := s.plane.clone()
	plane.Trust = s.trust.table()
	f.Plane = &plane
	return f, nil
}

// restore replaces the state with f.
func (s *state) restore(f *stateFile) error {
	if f.Version != stateFileVersion {
		return fmt.Errorf("state file version %d, want %d", f.Version, stateFileVersion)
	}
	td, err := spiffeid.TrustDomainFromString(f.TrustDomain)
	if err != nil {
		return fmt.Errorf("state file: trust domain: %w", err)
	}
	var own *spiffebundle.Bundle
	if len(f.Bundle) > 0 {
		if own, err = spiffebundle.Parse(td, f.Bundle); err != nil {
			return fmt.Errorf("state file: bundle: %w", err)
		}
	}
	fed := map[spiffeid.TrustDomain]*spiffebundle.Bundle{}
	for name, raw := range f.Federated {
		ftd, err := spiffeid.TrustDomainFromString(name)
		if err != nil {
			return fmt.Errorf("state file: federated trust domain %q: %w", name, err)
		}
		if fed[ftd], err = spiffebundle.Parse(ftd, raw); err != nil {
			return fmt.Errorf("state file: bundle of %s: %w", ftd, err)
		}
	}
	entries := make(map[string]agentproto.Entry, len(f.Entries))
	for _, e := range f.Entries {
		if checkEntry(e, td) == nil {
			entries[e.ID] = e
		}
	}
	set := s.newSet()
	revs, _ := revocationEntries(f.Revocations)
	set.Apply(revs...)
	s.mu.Lock()
	s.td, s.bundle, s.federated, s.entries = td, own, fed, entries
	s.revision, s.revRevision = f.Revision, f.RevocationsRevision
	s.revoked.Store(set)
	s.restorePlane(f.Plane)
	s.mu.Unlock()
	s.changes.notify()
	return nil
}

// saveState writes the state to dir/state.json atomically.
func saveState(dir string, s *state) error {
	f, err := s.snapshot()
	if err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFileName), data, 0o600)
}

// loadState reads dir/state.json into s. It returns false without error
// when there is no such file.
func loadState(dir string, s *state) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFileName))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return false, fmt.Errorf("state file: %w", err)
	}
	if err := s.restore(&f); err != nil {
		return false, err
	}
	return true, nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
