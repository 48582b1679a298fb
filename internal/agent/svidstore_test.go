package agent

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kith-dev/kith/internal/agentproto"
)

func TestSealKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	k, err := createSealKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadSealKey(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := k.seal([]byte("secret"), []byte("purpose"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.open(sealed, []byte("purpose")); err != nil || string(got) != "secret" {
		t.Errorf("open with the reloaded key = %q, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)/2] ^= 1
	other, err := createSealKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() ([]byte, error){
		"tampered":      func() ([]byte, error) { return k.open(tampered, []byte("purpose")) },
		"truncated":     func() ([]byte, error) { return k.open(sealed[:10], []byte("purpose")) },
		"other purpose": func() ([]byte, error) { return k.open(sealed, []byte("other")) },
		"other key":     func() ([]byte, error) { return other.open(sealed, []byte("purpose")) },
	} {
		if got, err := open(); !errors.Is(err, errUnseal) {
			t.Errorf("%s: open = %q, %v; want errUnseal", name, got, err)
		}
	}

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("k", "key", k)
	printed := fmt.Sprintf("%v %+v %#v %s %x %q", k, k, k, k, k, k) + logs.String()
	if strings.Count(printed, sealKeyRedacted) != 7 {
		t.Errorf("a seal key printed as %q; want only %q", printed, sealKeyRedacted)
	}
}

func TestLoadSealKeyRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := bytes.Repeat([]byte{7}, sealKeySize)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", key, 0o600), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		insecure bool
	}{
		{"group readable", write("group", key, 0o640), true},
		{"world readable", write("world", key, 0o604), true},
		{"symbolic link", link, true},
		{"short", write("short", key[:31], 0o600), false},
		{"long", write("long", append(key, 1), 0o600), false},
		{"empty", write("empty", nil, 0o600), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := loadSealKey(tt.path)
			if err == nil {
				t.Fatalf("loadSealKey = %v, want an error", k)
			}
			if errors.Is(err, errInsecureFile) != tt.insecure {
				t.Errorf("loadSealKey = %v; want errInsecureFile: %v", err, tt.insecure)
			}
		})
	}
	if _, err := loadSealKey(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("loadSealKey of no file = %v, want ErrNotExist", err)
	}
}

// persisted is an agent's data folder holding a workload SVID.
type persisted struct {
	cfg   Config // for a restart: no join token, logs into logs
	svid  *x509svid.SVID
	clock *testClock
	fs    *fakeServer
	logs  *bytes.Buffer
}

// persistedAgent runs an agent until it has minted an SVID for this
// process (and so persisted it), with the entry's X509-SVID lifetime set
// to ttl (0: the CA's default, 24 hours), and stops it.
func persistedAgent(t *testing.T, ttl time.Duration) persisted {
	t.Helper()
	clock := newTestClock()
	fs := newFakeServer(t, clock)
	cfg := newTestConfig(t, fs, clock)
	r := startAgent(t, cfg)
	e := fs.putEntry(agentproto.Entry{SPIFFEID: "spiffe://example.org/web", Selectors: []string{ownUIDSelector()},
		X509SVIDTTL: int64(ttl / time.Second)})
	r.awaitEntry(t, e.ID)
	svid, err := workloadapi.FetchX509SVID(t.Context(), clientOptions(r))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	r.done <- nil // for the cleanup's stop
	var logs bytes.Buffer
	cfg.JoinToken = JoinToken{}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	return persisted{cfg: cfg, svid: svid, clock: clock, fs: fs, logs: &logs}
}

// editState rewrites the persisted state with edit.
func editState(t *testing.T, dir string, edit func(*stateFile)) {
	t.Helper()
	path := filepath.Join(dir, stateFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	edit(&f)
	if data, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPersistedSVIDs restarts an agent (without running it: New loads
// what the data folder holds) after changing that folder, and checks
// which persisted SVIDs it takes up.
func TestPersistedSVIDs(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration // of the entry's SVID; 0: 24 hours
		change  func(t *testing.T, p persisted)
		want    int    // SVIDs held after New
		wantLog string // in the logs, if set
	}{
		{"untouched", 0, func(*testing.T, persisted) {}, 1, "restored"},
		{"tampered", 0, func(t *testing.T, p persisted) {
			path := filepath.Join(p.cfg.DataDir, svidsFileName)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x01
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, 0, "does not authenticate"},
		{"file readable by the group", 0, func(t *testing.T, p persisted) {
			if err := os.Chmod(filepath.Join(p.cfg.DataDir, svidsFileName), 0o640); err != nil {
				t.Fatal(err)
			}
		}, 0, "not a regular file of mode 0600"},
		{"key readable by others", 0, func(t *testing.T, p persisted) {
			if err := os.Chmod(filepath.Join(p.cfg.DataDir, sealKeyFileName), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 0, "key of the persisted workload SVIDs is refused"},
		{"key gone", 0, func(t *testing.T, p persisted) {
			if err := os.Remove(filepath.Join(p.cfg.DataDir, sealKeyFileName)); err != nil {
				t.Fatal(err)
			}
		}, 0, "without their key"},
		{"expired", time.Hour, func(_ *testing.T, p persisted) { p.clock.Add(2 * time.Hour) }, 0, "expired"},
		{"entry disabled", 0, func(t *testing.T, p persisted) {
			editState(t, p.cfg.DataDir, func(f *stateFile) { f.Entries[0].Status = "disabled" })
		}, 0, "the entry is disabled"},
		{"entry gone", 0, func(t *testing.T, p persisted) {
			editState(t, p.cfg.DataDir, func(f *stateFile) { f.Entries[0].ID = "another" })
		}, 0, "the entry is gone"},
		{"revoked", 0, func(t *testing.T, p persisted) {
			editState(t, p.cfg.DataDir, func(f *stateFile) {
				f.Revocations = append(f.Revocations, agentproto.Revocation{Kind: "x509_serial",
					Value: p.svid.Certificates[0].SerialNumber.Text(16), RevokedAt: p.clock.Now()})
			})
		}, 0, "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := persistedAgent(t, tt.ttl)
			cfg, logs := p.cfg, p.logs
			tt.change(t, p)
			a, err := New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if n, _ := a.svids.stats(); n != tt.want {
				t.Errorf("%d SVIDs taken up, want %d", n, tt.want)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs do not say %q:\n%s", tt.wantLog, logs)
			}
			for _, name := range []string{svidsFileName, sealKeyFileName} {
				if fi, err := os.Stat(filepath.Join(cfg.DataDir, name)); err == nil && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s left with mode %v", name, fi.Mode())
				}
			}
		})
	}
}

// TestPersistedSVIDsSealed checks that the persisted file holds neither
// the private key nor the certificate in the clear.
func TestPersistedSVIDsSealed(t *testing.T) {
	p := persistedAgent(t, 0)
	svid := p.svid
	data, err := os.ReadFile(filepath.Join(p.cfg.DataDir, svidsFileName))
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range map[string][]byte{"private key": keyDER, "certificate": svid.Certificates[0].Raw} {
		encoded := base64.StdEncoding.EncodeToString(secret) // as JSON holds bytes
		if bytes.Contains(data, secret[:32]) || bytes.Contains(data, []byte(encoded[:40])) {
			t.Errorf("the persisted file holds the %s in the clear", what)
		}
	}
}

// TestPersistedSVIDExpires restarts an agent with the server away: it
// serves the persisted SVID, and stops serving it once it has expired.
func TestPersistedSVIDExpires(t *testing.T) {
	p := persistedAgent(t, time.Hour)
	p.fs.stop()
	p.cfg.Logger = testLogger(t)
	r := startAgent(t, p.cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	got, err := workloadapi.FetchX509SVID(ctx, clientOptions(r))
	if err != nil {
		t.Fatalf("FetchX509SVID with the server away: %v", err)
	}
	if !got.Certificates[0].Equal(p.svid.Certificates[0]) {
		t.Error("the restarted agent served another SVID; want the persisted one")
	}
	p.clock.Add(time.Hour + time.Second)
	if got, err := workloadapi.FetchX509SVID(ctx, clientOptions(r)); status.Code(err) != codes.Unavailable {
		t.Errorf("FetchX509SVID after the SVID expired = %v, %v; want Unavailable", got, err)
	}
}

// TestIdleSVIDKeptOffline checks that an SVID no workload has fetched for
// longer than the idle timeout is dropped only while the server can be
// reached: offline, it could not be minted again when its workload comes
// back.
func TestIdleSVIDKeptOffline(t *testing.T) {
	p := persistedAgent(t, 0)
	a, err := New(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	later := p.clock.Now().Add(10 * defaultIdleSVIDTimeout)
	a.svids.due(later, defaultIdleSVIDTimeout)
	if n, _ := a.svids.stats(); n != 1 {
		t.Fatalf("offline, %d SVIDs held after the idle timeout; want the persisted one kept", n)
	}
	a.connected.Store(true)
	a.svids.due(later, defaultIdleSVIDTimeout)
	if n, _ := a.svids.stats(); n != 0 {
		t.Errorf("online, %d SVIDs held after the idle timeout; want it dropped", n)
	}
}

func FuzzDecodeSVIDsFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"trust_domain":"example.org","svids":[{"entry":{"id":"e"},"chain":"AAAA","key":"AAAA"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"extra":true}`))
	f.Fuzz(func(t *testing.T, plain []byte) {
		sf, err := decodeSVIDsFile(plain)
		if err == nil && sf.Version != svidsFileVersion {
			t.Errorf("decoded version %d", sf.Version)
		}
	})
}
