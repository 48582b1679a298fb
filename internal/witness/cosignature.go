package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// This file implements Ed25519 cosignature/v1 keys and signatures
// (https://c2sp.org/tlog-cosignature): signature type 0x04, key ID
// SHA-256(name || "\n" || 0x04 || public key)[:4], and a signature that is
// an 8-byte big-endian POSIX timestamp followed by an Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" and the note text.

const (
	// algEd25519 is the signed-note type of plain Ed25519 keys.
	algEd25519 = 0x01
	// algCosignatureV1 is the signed-note type of Ed25519 cosignature/v1
	// keys.
	algCosignatureV1 = 0x04
	// cosignatureSize is the length of a cosignature/v1 signature, without
	// the key ID.
	cosignatureSize = 8 + ed25519.SignatureSize
)

var (
	errSignerKey   = errors.New("witness: malformed cosignature signer key")
	errVerifierKey = errors.New("witness: malformed cosignature verifier key")
)

// GenerateKey returns a new Ed25519 cosignature/v1 key pair named name, as
// a signer key for [NewSigner] ("PRIVATE+KEY+<name>+<id>+<key>") and a
// verifier key for [NewVerifier] ("<name>+<id>+<key>"), both with
// signature type 0x04. The name should be a schema-less URL identifying the
// witness, such as "witness.example.org/w1". GenerateKey returns an error
// if name is empty or holds spaces or "+", or if crypto/rand fails.
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", fmt.Errorf("witness: invalid key name %q", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("witness: generate key: %w", err)
	}
	pubkey := append([]byte{algCosignatureV1}, pub...)
	id := keyID(name, pubkey)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(pubkey))
	return skey, vkey, nil
}

// NewSigner returns a note.Signer that makes Ed25519 cosignature/v1
// signatures with skey, timestamped with clock (time.Now if nil). skey is a
// signer key as [GenerateKey] makes; one of signature type 0x01 (a plain
// Ed25519 note key, as note.GenerateKey makes) is accepted too, and signs
// under the cosignature/v1 key ID.
//
// NewSigner returns an error if skey is malformed or its key ID does not
// match its key. The Signer's Sign returns an error if the clock is not
// after 1970 or the message has fewer than three lines.
func NewSigner(skey string, clock func() time.Time) (note.Signer, error) {
	name, seed, err := parseSignerKey(skey)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	key := ed25519.NewKeyFromSeed(seed)
	pubkey := append([]byte{algCosignatureV1}, key.Public().(ed25519.PublicKey)...)
	return &cosigner{name: name, hash: keyID(name, pubkey), key: key, clock: clock}, nil
}

// VerifierKey returns the cosignature/v1 verifier key (type 0x04) that
// matches the signer key skey, for publishing. It returns an error if skey
// is malformed.
func VerifierKey(skey string) (string, error) {
	name, seed, err := parseSignerKey(skey)
	if err != nil {
		return "", err
	}
	pubkey := append([]byte{algCosignatureV1}, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("%s+%08x+%s", name, keyID(name, pubkey), base64.StdEncoding.EncodeToString(pubkey)), nil
}

// parseSignerKey returns the name and Ed25519 seed of skey, checking its
// key ID.
func parseSignerKey(skey string) (name string, seed []byte, err error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return "", nil, errSignerKey
	}
	name, rest, _ = strings.Cut(rest, "+")
	id16, key64, _ := strings.Cut(rest, "+")
	id, err1 := strconv.ParseUint(id16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if !validKeyName(name) || len(id16) != 8 || err1 != nil || err2 != nil ||
		len(key) != 1+ed25519.SeedSize || (key[0] != algCosignatureV1 && key[0] != algEd25519) {
		return "", nil, errSignerKey
	}
	alg, seed := key[0], key[1:]
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if keyID(name, append([]byte{alg}, pub...)) != uint32(id) {
		return "", nil, fmt.Errorf("%w: key ID does not match the key", errSignerKey)
	}
	return name, seed, nil
}

// NewVerifier returns a note.Verifier for Ed25519 cosignature/v1
// signatures from the verifier key vkey ("<name>+<id>+<key>", signature
// type 0x04), such as [GenerateKey] or [VerifierKey] return. It returns an
// error if vkey is malformed, of another type, or its key ID does not match
// its key.
func NewVerifier(vkey string) (note.Verifier, error) {
	name, rest, _ := strings.Cut(vkey, "+")
	id16, key64, _ := strings.Cut(rest, "+")
	id, err1 := strconv.ParseUint(id16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if !validKeyName(name) || len(id16) != 8 || err1 != nil || err2 != nil ||
		len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, errVerifierKey
	}
	if keyID(name, key) != uint32(id) {
		return nil, fmt.Errorf("%w: key ID does not match the key", errVerifierKey)
	}
	return &coverifier{name: name, hash: uint32(id), key: ed25519.PublicKey(key[1:])}, nil
}

// cosigner is a note.Signer for cosignature/v1.
type cosigner struct {
	name  string
	hash  uint32
	key   ed25519.PrivateKey
	clock func() time.Time
}

func (s *cosigner) Name() string    { return s.name }
func (s *cosigner) KeyHash() uint32 { return s.hash }

// Sign returns the timestamp and the Ed25519 signature of msg, a note text.
func (s *cosigner) Sign(msg []byte) ([]byte, error) {
	t := s.clock().Unix()
	if t <= 0 {
		return nil, errors.New("witness: cosign: clock is not after 1970")
	}
	m, err := cosignedMessage(uint64(t), msg)
	if err != nil {
		return nil, err
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, cosignatureSize), uint64(t))
	return append(sig, ed25519.Sign(s.key, m)...), nil
}

// String names the key without revealing it.
func (s *cosigner) String() string { return fmt.Sprintf("cosigner %s+%08x", s.name, s.hash) }

// GoString names the key without revealing it.
func (s *cosigner) GoString() string { return s.String() }

// LogValue names the key without revealing it.
func (s *cosigner) LogValue() slog.Value { return slog.StringValue(s.String()) }

// coverifier is a note.Verifier for cosignature/v1.
type coverifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *coverifier) Name() string    { return v.name }
func (v *coverifier) KeyHash() uint32 { return v.hash }

// Verify reports whether sig is a cosignature/v1 signature on msg.
func (v *coverifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	m, err := cosignedMessage(t, msg)
	if err != nil {
		return false
	}
	return ed25519.Verify(v.key, m, sig[8:])
}

// cosignedMessage returns what a cosignature/v1 signature signs: the
// header line, the timestamp line and the note text.
func cosignedMessage(t uint64, text []byte) ([]byte, error) {
	if bytes.Count(text, []byte("\n")) < 3 || !bytes.HasSuffix(text, []byte("\n")) {
		return nil, errors.New("witness: cosign: note text is not a checkpoint")
	}
	return fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, text), nil
}

// keyID returns the signed-note key ID of the typed public key pubkey.
func keyID(name string, pubkey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(pubkey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validKeyName reports whether name can name a signed-note key: non-empty
// UTF-8 without spaces or "+".
func validKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}
