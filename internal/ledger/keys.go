package ledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// GenerateKey returns a new Ed25519 key pair for a log whose checkpoints
// have the given origin line, encoded as signed-note keys: skey is the
// secret signer key ("PRIVATE+KEY+origin+..."), vkey the public verifier
// key to hand to verifiers. It returns an error if origin is not a valid
// key name (empty, or holding space or '+') or if the system's random
// source fails.
func GenerateKey(origin string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return "", "", fmt.Errorf("ledger: generate key for %q: %w", origin, err)
	}
	return skey, vkey, nil
}

// Signer signs checkpoints with an Ed25519 signed-note key and knows its
// own verifier. It implements note.Signer. It never prints its key.
type Signer struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

// NewSigner returns the Signer for skey, a secret key from [GenerateKey]
// (or note.GenerateKey). It returns an error if skey is not a valid
// Ed25519 signer key.
func NewSigner(skey string) (*Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("ledger: signer key: %w", err)
	}
	// skey is PRIVATE+KEY+name+hash+base64(1 || seed); names hold no '+'.
	parts := strings.SplitN(skey, "+", 5)
	errKey := errors.New("ledger: signer key: not an Ed25519 key")
	if len(parts) != 5 {
		return nil, errKey
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return nil, errKey
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("ledger: signer key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledger: signer key: %w", err)
	}
	return &Signer{signer: s, verifier: v, vkey: vkey}, nil
}

// Name returns the key's name, which is the log's origin.
func (s *Signer) Name() string { return s.signer.Name() }

// KeyHash returns the key's hash, as in the signature lines of notes.
func (s *Signer) KeyHash() uint32 { return s.signer.KeyHash() }

// Sign signs msg. It returns no error for an Ed25519 key.
func (s *Signer) Sign(msg []byte) ([]byte, error) { return s.signer.Sign(msg) }

// Verifier returns the verifier of the signer's public key.
func (s *Signer) Verifier() note.Verifier { return s.verifier }

// String names the key without revealing it.
func (s *Signer) String() string { return fmt.Sprintf("ledger.Signer(%s+%08x)", s.Name(), s.KeyHash()) }

// LogValue names the key without revealing it.
func (s *Signer) LogValue() slog.Value { return slog.StringValue(s.String()) }

// VerifierKey returns the public verifier key of a signer, in the
// signed-note encoding (name+hash+base64key), for publishing.
func (s *Signer) VerifierKey() string {
	return s.vkey
}
