package ca

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestKEKSealOpen(t *testing.T) {
	k := newTestKEK(t)
	aad := []byte("example.org/slot-1")
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", nil},
		{"short", []byte("x")},
		{"key-sized", bytes.Repeat([]byte{0xAB}, 121)},
		{"large", bytes.Repeat([]byte("kith"), 4096)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, aad)
			if err != nil {
				t.Fatal(err)
			}
			// A plaintext of a few bytes can turn up in random ciphertext
			// by chance; only longer ones prove anything.
			if len(tt.plaintext) >= 16 && bytes.Contains(sealed, tt.plaintext) {
				t.Error("sealed data contains the plaintext")
			}
			got, err := k.Open(sealed, aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %x, want %x", got, tt.plaintext)
			}
		})
	}
}

func TestKEKSealUsesFreshNonces(t *testing.T) {
	k := newTestKEK(t)
	a, _ := k.Seal([]byte("same"), nil)
	b, _ := k.Seal([]byte("same"), nil)
	if bytes.Equal(a[:12], b[:12]) || bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext share a nonce")
	}
}

func TestKEKOpenRefuses(t *testing.T) {
	k := newTestKEK(t)
	aad := []byte("example.org/slot-1")
	sealed, err := k.Seal([]byte("private key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		return c
	}
	tests := []struct {
		name       string
		kek        *KEK
		ciphertext []byte
		aad        []byte
	}{
		{"wrong AAD", k, sealed, []byte("example.org/slot-2")},
		{"missing AAD", k, sealed, nil},
		{"tampered nonce", k, flip(0), aad},
		{"tampered ciphertext", k, flip(13), aad},
		{"tampered tag", k, flip(len(sealed) - 1), aad},
		{"truncated", k, sealed[:len(sealed)-1], aad},
		{"too short", k, sealed[:10], aad},
		{"empty", k, nil, aad},
		{"other key", newTestKEK(t), sealed, aad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.kek.Open(tt.ciphertext, tt.aad)
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open = %q, %v; want ErrUnseal", got, err)
			}
		})
	}
}

func TestNewKEKSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if _, err := NewKEK(make([]byte, n)); err == nil {
				t.Errorf("NewKEK(%d bytes) succeeded", n)
			}
		})
	}
}

func TestLoadOrCreateKEK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	k1, err := LoadOrCreateKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != KEKSize {
		t.Errorf("created file mode %v size %d, want 0600 and %d", fi.Mode().Perm(), fi.Size(), KEKSize)
	}
	k2, err := LoadOrCreateKEK(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := k1.Seal([]byte("secret"), []byte("aad"))
	if got, err := k2.Open(sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Errorf("reloaded KEK Open = %q, %v; want the same key", got, err)
	}
}

func TestLoadOrCreateKEKRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr string
	}{
		{"world readable", writeKEKFile(KEKSize, 0o644), "mode 0644"},
		{"group readable", writeKEKFile(KEKSize, 0o640), "mode 0640"},
		{"other writable", writeKEKFile(KEKSize, 0o602), "mode 0602"},
		{"too short", writeKEKFile(16, 0o600), "16 bytes, want exactly 32"},
		{"too long", writeKEKFile(64, 0o600), "64 bytes, want exactly 32"},
		{"empty", writeKEKFile(0, 0o600), "0 bytes"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kek")
			tt.setup(t, path)
			k, err := LoadOrCreateKEK(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadOrCreateKEK = %v, %v; want error containing %q", k, err, tt.wantErr)
			}
		})
	}
}

func TestLoadOrCreateKEKMissingFolder(t *testing.T) {
	if _, err := LoadOrCreateKEK(filepath.Join(t.TempDir(), "no", "kek")); err == nil {
		t.Fatal("LoadOrCreateKEK in a missing folder succeeded")
	}
}

func writeKEKFile(size int, mode os.FileMode) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, make([]byte, size), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // not subject to umask
			t.Fatal(err)
		}
	}
}

func TestKEKRedacted(t *testing.T) {
	key := bytes.Repeat([]byte{0x5A}, KEKSize)
	k, err := NewKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "kek", k)
	outputs := map[string]string{
		"String":   k.String(),
		"GoString": k.GoString(),
		"%v":       fmt.Sprintf("%v", k),
		"%+v":      fmt.Sprintf("%+v", k),
		"%#v":      fmt.Sprintf("%#v", k),
		"%x":       fmt.Sprintf("%x", k),
		"%d value": fmt.Sprintf("%d", *k),
		"%v in struct": fmt.Sprintf("%+v", struct {
			K KEK
		}{*k}),
		"slog": logged.String(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(out, "KEK(redacted)") {
				t.Errorf("output %q does not say KEK(redacted)", out)
			}
			if strings.Contains(out, hex.EncodeToString(key[:4])) || strings.Contains(strings.ToLower(out), "5a5a") {
				t.Errorf("output %q shows key material", out)
			}
		})
	}
}

func TestKEKNotComparable(t *testing.T) {
	if reflect.TypeFor[KEK]().Comparable() {
		t.Error("KEK is comparable with ==")
	}
}
