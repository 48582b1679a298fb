package ledger_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// crashEnv names the environment variable that makes TestCrashHelper
// run, with the SQLite URL and the signer key it uses.
const (
	crashURLEnv = "KITH_LEDGER_CRASH_URL"
	crashKeyEnv = "KITH_LEDGER_CRASH_KEY"
)

// TestCrashHelper is the child process of TestCrash: it records events
// from 16 goroutines until it is killed, printing "committed INDEX TAG"
// for each Record that returned.
func TestCrashHelper(t *testing.T) {
	url := os.Getenv(crashURLEnv)
	if url == "" {
		t.Skip("only run by TestCrash")
	}
	s, err := store.Open(t.Context(), store.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ledger.NewSigner(os.Getenv(crashKeyEnv))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), ledger.Config{Store: s, Origin: testOrigin, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	out := bufio.NewWriter(os.Stdout)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ev := testEvent(i)
				ev.Target = fmt.Sprintf("w%d-%d", w, i)
				index, err := l.Record(context.Background(), ev)
				if err != nil {
					fmt.Fprintln(os.Stderr, "Record:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "committed %d %s\n", index, ev.Target)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrash kills a process that is recording under load and checks that
// every event whose Record returned is in the log, intact, and that the
// log works and verifies after a restart.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	url := sqliteURL(t)
	skey, _, err := ledger.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	openStore(t, url).Close() // migrate before the child starts
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashURLEnv+"="+url, crashKeyEnv+"="+skey)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The reader keeps what the child reported; loaded is closed at the
	// loadCommits-th report, once the child's 16 goroutines are recording
	// under load (start-up is over), so that the kill lands mid-commit.
	const loadCommits = 2000
	committed := map[uint64]string{}
	loaded := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "committed" {
				continue // a partial last line, or test output
			}
			i, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				continue
			}
			committed[i] = f[2]
			if len(committed) == loadCommits {
				close(loaded)
			}
		}
	})
	select {
	case <-loaded:
	case <-time.After(30 * time.Second):
		t.Errorf("the child reported fewer than %d commits within 30s", loadCommits)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	err = cmd.Wait()
	if len(committed) == 0 {
		t.Fatalf("child committed nothing before being killed (wait: %v)\n%s", err, stderr.String())
	}
	t.Logf("child committed %d events before SIGKILL", len(committed))

	signer, err := ledger.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger(t, openStore(t, url), signer, nil)
	var size uint64
	for i := range committed {
		size = max(size, i+1)
	}
	got := map[uint64]string{}
	for _, e := range allEntries(t, l, size) {
		got[e.Index] = string(e.Data)
	}
	for i, tag := range committed {
		if !strings.Contains(got[i], `"target":"`+tag+`"`) {
			t.Errorf("entry %d: want %s, have %s", i, tag, got[i])
		}
	}
	next := mustRecord(t, l, testEvent(0))
	if uint64(next) < size {
		t.Errorf("Record after the crash returned index %d, below the %d reported", next, size)
	}
	mustPublish(t, l)
	if rep, err := ledger.VerifyLog(t.Context(), l.Source(), ledger.VerifyOptions{Verifier: signer.Verifier()}); err != nil {
		t.Errorf("VerifyLog after the crash: %v (%+v)", err, rep)
	}
}
