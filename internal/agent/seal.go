package agent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
)

// sealKeySize is the size in bytes of a sealKey.
const sealKeySize = 32

const sealKeyRedacted = "sealKey(redacted)"

// errUnseal means sealed data did not authenticate: it was truncated,
// tampered with, or sealed with another key or for another purpose.
var errUnseal = errors.New("sealed data does not authenticate")

// errInsecureFile means a file of the data folder is not a regular file or
// is accessible to group or others.
var errInsecureFile = errors.New("not a regular file of mode 0600")

// sealKey is the AES-256-GCM key with which the agent seals what it keeps
// on disk that must stay secret and untampered (the workload SVIDs and
// their private keys). Like the server's KEK (package ca), it never prints
// its key (String, GoString, Format and LogValue all print
// "sealKey(redacted)") and cannot be compared with ==.
type sealKey struct {
	_    [0]func() // not comparable: == on key material is not constant-time
	aead cipher.AEAD
}

// newSealKey returns a sealKey holding key, which must be sealKeySize
// bytes long.
func newSealKey(key []byte) (*sealKey, error) {
	if len(key) != sealKeySize {
		return nil, fmt.Errorf("seal key is %d bytes, want %d", len(key), sealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealKey{aead: aead}, nil
}

// loadSealKey reads the key stored at path. It fails with an error
// wrapping fs.ErrNotExist when there is none, and errInsecureFile when the
// file is not a regular file or group or others may access it.
func loadSealKey(path string) (*sealKey, error) {
	f, err := openPrivate(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	key := make([]byte, sealKeySize+1)
	defer clear(key)
	n, err := io.ReadFull(f, key)
	if err != io.ErrUnexpectedEOF || n != sealKeySize {
		return nil, fmt.Errorf("%s: want exactly %d bytes", path, sealKeySize)
	}
	return newSealKey(key[:n])
}

// createSealKey writes a new random key to path (mode 0600), failing if
// the file exists.
func createSealKey(path string) (_ *sealKey, err error) {
	key := make([]byte, sealKeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if _, err := f.Write(key); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return newSealKey(key)
}

// openPrivate opens path for reading if it is a regular file that neither
// group nor others may access. It fails with an error wrapping
// fs.ErrNotExist when there is no such file, and errInsecureFile
// otherwise.
func openPrivate(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symbolic link", errInsecureFile, path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s has mode %v", errInsecureFile, path, fi.Mode())
	}
	return f, nil
}

// seal encrypts and authenticates plaintext, bound to additionalData, and
// returns nonce||ciphertext||tag.
func (k *sealKey) seal(plaintext, additionalData []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[:ns], plaintext, additionalData), nil
}

// open authenticates and decrypts what seal returned. It fails with
// errUnseal if the data is truncated or tampered with, or was sealed with
// another key or additionalData.
func (k *sealKey) open(sealed, additionalData []byte) ([]byte, error) {
	ns := k.aead.NonceSize()
	if len(sealed) < ns+k.aead.Overhead() {
		return nil, errUnseal
	}
	pt, err := k.aead.Open(nil, sealed[:ns], sealed[ns:], additionalData)
	if err != nil {
		return nil, errUnseal
	}
	return pt, nil
}

// String returns "sealKey(redacted)".
func (sealKey) String() string { return sealKeyRedacted }

// GoString returns "sealKey(redacted)".
func (sealKey) GoString() string { return sealKeyRedacted }

// Format prints "sealKey(redacted)" whatever the verb.
func (sealKey) Format(f fmt.State, _ rune) { io.WriteString(f, sealKeyRedacted) }

// LogValue returns "sealKey(redacted)".
func (sealKey) LogValue() slog.Value { return slog.StringValue(sealKeyRedacted) }
