package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

func TestGenerateKey(t *testing.T) {
	k := newWitnessKey(t, "witness.example/w1")
	if !strings.HasPrefix(k.skey, "PRIVATE+KEY+witness.example/w1+") {
		t.Errorf("skey = %q, want PRIVATE+KEY+witness.example/w1+...", k.skey)
	}
	vkey, err := VerifierKey(k.skey)
	if err != nil {
		t.Fatal(err)
	}
	if vkey != k.vkey {
		t.Errorf("VerifierKey(skey) = %q, want %q", vkey, k.vkey)
	}
	got := []any{k.signer.Name(), k.signer.KeyHash()}
	want := []any{k.verifier.Name(), k.verifier.KeyHash()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signer and verifier differ (-verifier +signer):\n%s", diff)
	}
	other := newWitnessKey(t, "witness.example/w1")
	if other.vkey == k.vkey {
		t.Error("two generated keys are equal")
	}
	for _, name := range []string{"", "a b", "a+b", "a\nb"} {
		if _, _, err := GenerateKey(name); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", name)
		}
	}
}

// TestCosignatureFormat checks a signature against the tlog-cosignature
// spec, computed here from first principles.
func TestCosignatureFormat(t *testing.T) {
	k := newWitnessKey(t, "witness.example/w1")
	text := "example.com/log\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextension line\n"
	signed := signText(t, text, k.signer)
	line := strings.TrimSuffix(strings.TrimPrefix(string(signed), text+"\n"), "\n")
	name, sig64, ok := strings.Cut(strings.TrimPrefix(line, "— "), " ")
	if !ok || name != "witness.example/w1" {
		t.Fatalf("signature line %q", line)
	}
	sig, err := base64.StdEncoding.DecodeString(sig64)
	if err != nil || len(sig) != 4+8+64 {
		t.Fatalf("signature %q: %d bytes, %v; want 76", sig64, len(sig), err)
	}

	// The vkey is name+id+base64(0x04 || public key).
	parts := strings.SplitN(k.vkey, "+", 3)
	pub, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(pub) != 33 || pub[0] != 0x04 {
		t.Fatalf("vkey key %q: want 0x04 and 32 bytes", parts[2])
	}
	id := sha256.Sum256(append([]byte("witness.example/w1\n"), pub...))
	if got, want := fmt.Sprintf("%x", sig[:4]), fmt.Sprintf("%x", id[:4]); got != want || parts[1] != want {
		t.Errorf("key ID in signature %s, in vkey %s; want %s", got, parts[1], want)
	}
	if got := binary.BigEndian.Uint64(sig[4:12]); got != uint64(testTime.Unix()) {
		t.Errorf("timestamp = %d, want %d", got, testTime.Unix())
	}
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", testTime.Unix(), text)
	if !ed25519.Verify(pub[1:], []byte(msg), sig[12:]) {
		t.Error("the Ed25519 signature does not verify over the cosignature/v1 message")
	}

	n, err := note.Open(signed, note.VerifierList(k.verifier))
	if err != nil {
		t.Fatalf("note.Open with the cosignature verifier: %v", err)
	}
	if n.Text != text {
		t.Errorf("opened text %q, want %q", n.Text, text)
	}
}

func TestVerifierRejects(t *testing.T) {
	k := newWitnessKey(t, "w")
	text := []byte("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
	sig, err := k.signer.Sign(text)
	if err != nil {
		t.Fatal(err)
	}
	if !k.verifier.Verify(text, sig) {
		t.Fatal("a good signature does not verify")
	}
	tamper := func(i int) []byte {
		s := append([]byte(nil), sig...)
		s[i] ^= 1
		return s
	}
	maxTime := append([]byte(nil), sig...)
	binary.BigEndian.PutUint64(maxTime, 1<<63)
	for _, tc := range []struct {
		name      string
		text, sig []byte
	}{
		{"other text", []byte("o\n2\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"), sig},
		{"timestamp changed", text, tamper(7)},
		{"signature changed", text, tamper(40)},
		{"timestamp beyond 2^63-1", text, maxTime},
		{"short", text, sig[:71]},
		{"long", text, append(append([]byte(nil), sig...), 0)},
		{"empty", text, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if k.verifier.Verify(tc.text, tc.sig) {
				t.Error("Verify = true, want false")
			}
		})
	}
}

func TestSignerErrors(t *testing.T) {
	k := newWitnessKey(t, "w")
	for _, tc := range []struct {
		name  string
		clock func() time.Time
		text  string
	}{
		{"clock at 1970", func() time.Time { return time.Unix(0, 0) }, "o\n1\nh\n"},
		{"clock before 1970", func() time.Time { return time.Unix(-5, 0) }, "o\n1\nh\n"},
		{"two lines", fixedClock, "o\n1\n"},
		{"no final newline", fixedClock, "o\n1\nh\nx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner(k.skey, tc.clock)
			if err != nil {
				t.Fatal(err)
			}
			if sig, err := s.Sign([]byte(tc.text)); err == nil {
				t.Errorf("Sign = %x, want an error", sig)
			}
		})
	}
}

func TestNewSignerAcceptsEd25519NoteKey(t *testing.T) {
	skey, _, err := note.GenerateKey(rand.Reader, "w")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyHash() != v.KeyHash() {
		t.Errorf("signer key ID %08x, verifier %08x", s.KeyHash(), v.KeyHash())
	}
	if _, err := note.Open(signText(t, "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", s), note.VerifierList(v)); err != nil {
		t.Errorf("cosignature by a type 0x01 signer key does not verify: %v", err)
	}
}

func TestMalformedKeys(t *testing.T) {
	k := newWitnessKey(t, "w")
	noteSkey, noteVkey, err := note.GenerateKey(rand.Reader, "w")
	if err != nil {
		t.Fatal(err)
	}
	// swap replaces field i of a key; signer keys have 5 fields, verifier
	// keys 3, and the last may hold "+".
	swap := func(key string, i int, s string) string {
		p := strings.SplitN(key, "+", 5)
		if !strings.HasPrefix(key, "PRIVATE+") {
			p = strings.SplitN(key, "+", 3)
		}
		p[i] = s
		return strings.Join(p, "+")
	}
	badKeyBytes := base64.StdEncoding.EncodeToString(append([]byte{0x04}, make([]byte, 31)...))
	t.Run("signer", func(t *testing.T) {
		for _, skey := range []string{
			"",
			"garbage",
			k.vkey,
			strings.Replace(k.skey, "PRIVATE+KEY", "PUBLIC+KEY", 1),
			swap(k.skey, 3, "00000000"),
			swap(k.skey, 3, "zzzzzzzz"),
			swap(k.skey, 4, "!!!"),
			swap(k.skey, 4, badKeyBytes),
			swap(k.skey, 2, "other"),
			swap(noteSkey, 3, "00000000"),
		} {
			if _, err := NewSigner(skey, nil); err == nil {
				t.Errorf("NewSigner(%q) succeeded", skey)
			}
			if _, err := VerifierKey(skey); err == nil {
				t.Errorf("VerifierKey(%q) succeeded", skey)
			}
		}
	})
	t.Run("verifier", func(t *testing.T) {
		for _, vkey := range []string{
			"",
			"garbage",
			k.skey,
			noteVkey, // a plain Ed25519 note key, type 0x01
			swap(k.vkey, 1, "00000000"),
			swap(k.vkey, 2, "!!!"),
			swap(k.vkey, 2, badKeyBytes),
			swap(k.vkey, 0, "other"),
			swap(k.vkey, 0, ""),
		} {
			if _, err := NewVerifier(vkey); err == nil {
				t.Errorf("NewVerifier(%q) succeeded", vkey)
			}
		}
	})
}

func TestSignerDoesNotLogKey(t *testing.T) {
	k := newWitnessKey(t, "w")
	seed, err := base64.StdEncoding.DecodeString(strings.SplitN(k.skey, "+", 5)[4])
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		s := fmt.Sprintf(verb, k.signer)
		if strings.Contains(s, fmt.Sprintf("%x", seed[1:9])) {
			t.Errorf("signer printed with %s shows key material: %q", verb, s)
		}
	}
}
