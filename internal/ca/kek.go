package ca

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
)

// KEKSize is the size in bytes of a key-encryption key.
const KEKSize = 32

const kekRedacted = "KEK(redacted)"

// KEK is a key-encryption key: an AES-256-GCM key that seals the CA's private
// keys before they reach storage. A KEK never prints its key (String,
// GoString, Format and LogValue all print "KEK(redacted)") and cannot be
// compared with ==.
type KEK struct {
	_    [0]func() // not comparable: == on key material is not constant-time
	aead cipher.AEAD
}

// NewKEK returns a KEK holding a copy of key. It returns an error if key is
// not [KEKSize] bytes long.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("ca: kek: key is %d bytes, want %d", len(key), KEKSize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("ca: kek: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("ca: kek: %w", err)
	}
	return &KEK{aead: aead}, nil
}

// LoadOrCreateKEK reads the KEK stored at path, or creates the file with
// [KEKSize] random bytes and mode 0600 if it does not exist. It refuses a
// file that is not a regular file, that group or others may access, or that
// is not exactly [KEKSize] bytes long, and returns an error saying which.
func LoadOrCreateKEK(path string) (*KEK, error) {
	k, err := loadKEK(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = createKEK(path)
	if errors.Is(err, fs.ErrExist) {
		return loadKEK(path) // another process created it first
	}
	return k, err
}

func loadKEK(path string) (*KEK, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ca: kek: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ca: kek: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("ca: kek: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("ca: kek: %s has mode %04o; it must not be accessible to group or others (chmod 600)", path, perm)
	}
	if fi.Size() != KEKSize {
		return nil, fmt.Errorf("ca: kek: %s is %d bytes, want exactly %d", path, fi.Size(), KEKSize)
	}
	key := make([]byte, KEKSize)
	defer clear(key)
	if _, err := io.ReadFull(f, key); err != nil {
		return nil, fmt.Errorf("ca: kek: read %s: %w", path, err)
	}
	return NewKEK(key)
}

func createKEK(path string) (_ *KEK, err error) {
	key := make([]byte, KEKSize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("ca: kek: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ca: kek: create: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if _, err := f.Write(key); err != nil {
		return nil, fmt.Errorf("ca: kek: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("ca: kek: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("ca: kek: close %s: %w", path, err)
	}
	return NewKEK(key)
}

// Seal encrypts and authenticates plaintext, binding it to additionalData,
// and returns nonce||ciphertext||tag. It returns an error only if k is nil or
// the system random source fails.
func (k *KEK) Seal(plaintext, additionalData []byte) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, errors.New("ca: kek: nil KEK")
	}
	ns := k.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("ca: kek: nonce: %w", err)
	}
	return k.aead.Seal(out, out[:ns], plaintext, additionalData), nil
}

// Open authenticates and decrypts what [KEK.Seal] returned. It returns an
// error wrapping [ErrUnseal] if the ciphertext is truncated or tampered with,
// or if the key or additionalData differ from those used to seal.
func (k *KEK) Open(ciphertext, additionalData []byte) ([]byte, error) {
	if k == nil || k.aead == nil {
		return nil, errors.New("ca: kek: nil KEK")
	}
	ns := k.aead.NonceSize()
	if len(ciphertext) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext too short", ErrUnseal)
	}
	pt, err := k.aead.Open(nil, ciphertext[:ns], ciphertext[ns:], additionalData)
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}

// String returns "KEK(redacted)".
func (KEK) String() string { return kekRedacted }

// GoString returns "KEK(redacted)".
func (KEK) GoString() string { return kekRedacted }

// Format prints "KEK(redacted)" whatever the verb.
func (KEK) Format(f fmt.State, _ rune) { io.WriteString(f, kekRedacted) }

// LogValue returns "KEK(redacted)".
func (KEK) LogValue() slog.Value { return slog.StringValue(kekRedacted) }
