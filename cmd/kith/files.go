package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// pendingFile is an output file opened before the work that fills it, so
// that a path that cannot be written is found before anything is done: a
// temporary file beside path (mode 0600), renamed over path by commit.
type pendingFile struct {
	path string
	f    *os.File
}

// prepareFile opens the temporary file of path. It returns an error
// naming path if its folder does not exist or cannot be written.
func prepareFile(path string) (*pendingFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return &pendingFile{path: path, f: f}, nil
}

// commit writes data with the given mode and renames the file over path.
// On error the temporary file is removed and path left as it was.
func (p *pendingFile) commit(data []byte, mode os.FileMode) error {
	err := p.f.Chmod(mode)
	if err == nil {
		_, err = p.f.Write(data)
	}
	if err == nil {
		err = p.f.Sync()
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.f.Name(), p.path)
	}
	if err != nil {
		os.Remove(p.f.Name())
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// abort removes the temporary file, if commit did not rename it; it may
// be called after commit.
func (p *pendingFile) abort() {
	if p != nil && p.f.Close() == nil {
		os.Remove(p.f.Name())
	}
}

// keyPEM encodes key as PKCS#8 PEM.
func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFileAtomic writes path, mode 0644, with what write writes: into a
// temporary file beside it, renamed over path once complete, so that path
// never holds a partial result. On error the temporary file is removed and
// path is left as it was.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
