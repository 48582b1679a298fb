package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kith-dev/kith/internal/agentproto"
)

// Files of the persisted workload SVIDs, in the data folder.
const (
	svidsFileName   = "workload-svids.sealed" // the SVIDs and their keys, sealed
	sealKeyFileName = "workload-svids.key"    // the sealKey, 0600
)

// svidsFileVersion is the format version of the sealed file's content.
const svidsFileVersion = 1

// maxSVIDsFile bounds the sealed file the agent reads.
const maxSVIDsFile = 64 << 20

// svidsAAD binds the sealed file to its purpose and format: data sealed
// with the same key for anything else does not open as it.
var svidsAAD = []byte("kith agent: workload X509-SVIDs, v1")

// svidsFile is the content of the sealed file.
type svidsFile struct {
	Version     int             `json:"version"`
	TrustDomain string          `json:"trust_domain"`
	SVIDs       []persistedSVID `json:"svids"`
}

// persistedSVID is one workload SVID as persisted.
type persistedSVID struct {
	Entry agentproto.Entry `json:"entry"` // as it was when minted
	Chain []byte           `json:"chain"` // certificates, concatenated DER
	Key   []byte           `json:"key"`   // PKCS#8
}

// svidStore keeps the agent's workload X509-SVIDs and their private keys
// in the data folder, sealed with a sealKey kept beside them (mode 0600,
// in the agent's 0700 folder), so that an agent restarted while the server
// is away still serves them until they expire. The seal makes the file
// unreadable without the key (a backup or a copy of the one file) and
// refuses a file changed by anyone but the agent.
type svidStore struct {
	path string
	key  *sealKey
}

// openSVIDStore opens the store of the data folder dir, creating its key
// if there is none, and returns what it holds. It refuses (logs, deletes,
// and starts empty from) a key or sealed file that group or others may
// access, a sealed file that does not authenticate (tampered, truncated,
// or sealed with another key) or does not decode; a refused key is
// replaced. It
// returns a nil store, after logging why, if no key can be had: SVIDs are
// then not persisted.
func openSVIDStore(dir string, logger *slog.Logger) (*svidStore, *svidsFile) {
	path, keyPath := filepath.Join(dir, svidsFileName), filepath.Join(dir, sealKeyFileName)
	key, err := loadSealKey(keyPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logger.Error("the key of the persisted workload SVIDs is refused; they are discarded and a new key made",
				"file", keyPath, "error", err)
			os.Remove(keyPath)
		}
		if err := os.Remove(path); err == nil {
			logger.Warn("persisted workload SVIDs without their key discarded", "file", path)
		}
		if key, err = createSealKey(keyPath); err != nil {
			logger.Error("no key to seal workload SVIDs with: they will not survive a restart", "file", keyPath, "error", err)
			return nil, nil
		}
	}
	s := &svidStore{path: path, key: key}
	f, err := s.load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		logger.Error("persisted workload SVIDs refused and deleted; starting without them", "file", path, "error", err)
		os.Remove(path)
		return s, nil
	}
	return s, f
}

// load reads and opens the sealed file. It fails with an error wrapping
// fs.ErrNotExist if there is none, errInsecureFile if group or others may
// access it, errUnseal if it does not authenticate, or the error of
// decoding it.
func (s *svidStore) load() (*svidsFile, error) {
	f, err := openPrivate(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sealed, err := io.ReadAll(io.LimitReader(f, maxSVIDsFile+1))
	if err != nil {
		return nil, err
	}
	if len(sealed) > maxSVIDsFile {
		return nil, fmt.Errorf("larger than %d bytes", maxSVIDsFile)
	}
	plain, err := s.key.open(sealed, svidsAAD)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return decodeSVIDsFile(plain)
}

// decodeSVIDsFile decodes the opened content of the sealed file. It fails
// for malformed JSON, unknown fields, or another format version.
func decodeSVIDsFile(plain []byte) (*svidsFile, error) {
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	var f svidsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if f.Version != svidsFileVersion {
		return nil, fmt.Errorf("format version %d, want %d", f.Version, svidsFileVersion)
	}
	return &f, nil
}

// save replaces the sealed file with svids, atomically.
func (s *svidStore) save(td string, svids []persistedSVID) error {
	plain, err := json.Marshal(svidsFile{Version: svidsFileVersion, TrustDomain: td, SVIDs: svids})
	if err != nil {
		return err
	}
	defer clear(plain)
	sealed, err := s.key.seal(plain, svidsAAD)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, sealed, 0o600)
}
