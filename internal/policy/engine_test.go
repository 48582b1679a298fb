package policy

import (
	"errors"
	"sync"
	"testing"
)

func TestEngineLoad(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := call(stranger, "GET", "/orders/1")
	if d := e.Decide(in); d.Action != ActionAllow || d.Protected || d.Revision != 0 {
		t.Errorf("empty engine: %+v, want an unprotected allow at revision 0", d)
	}
	v1 := []byte(`[{"name":"p","target":"spiffe://example.org/orders","rules":[{"from":{"spiffe_ids":["spiffe://example.org/billing"]},"action":"allow"}]}]`)
	v2 := []byte(`[{"name":"p","target":"spiffe://example.org/orders","rules":[{"action":"allow"}]}]`)
	steps := []struct {
		name    string
		rev     int64
		docs    []byte
		wantErr bool
		wantRev int64
		want    Action // for the stranger's call
	}{
		{"first revision", 1, v1, false, 1, ActionDeny},
		{"newer revision", 3, v2, false, 3, ActionAllow},
		{"an older revision is ignored", 2, v1, false, 3, ActionAllow},
		{"an invalid set keeps the current one", 4, []byte(`[{"name":"p","target":"x"}]`), true, 3, ActionAllow},
		{"not JSON", 5, []byte(`{`), true, 3, ActionAllow},
	}
	for _, st := range steps {
		err := e.LoadJSON(st.rev, st.docs)
		if (err != nil) != st.wantErr {
			t.Errorf("%s: LoadJSON: %v, want error %v", st.name, err, st.wantErr)
		}
		if st.wantErr && st.rev == 4 && !errors.As(err, new(ErrorList)) {
			t.Errorf("%s: error %v is not an ErrorList", st.name, err)
		}
		if got := e.Revision(); got != st.wantRev {
			t.Errorf("%s: Revision = %d, want %d", st.name, got, st.wantRev)
		}
		if d := e.Decide(in); d.Action != st.want || d.Revision != st.wantRev {
			t.Errorf("%s: Decide = %s at %d, want %s at %d", st.name, d.Action, d.Revision, st.want, st.wantRev)
		}
	}
}

// TestEngineSwapWhileDeciding decides from several goroutines while new
// revisions are loaded; run with -race. Every decision sees one whole
// revision: odd revisions allow the call, even ones deny it.
func TestEngineSwapWhileDeciding(t *testing.T) {
	e, _ := New(Config{})
	allow := []byte(`[{"name":"p","target":"spiffe://example.org/orders","rules":[{"action":"allow"}]}]`)
	deny := []byte(`[{"name":"p","target":"spiffe://example.org/orders","rules":[{"action":"deny"}]}]`)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			in := call(billing, "GET", "/orders/1")
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := e.Decide(in)
				if d.Revision > 0 && (d.Revision%2 == 1) != (d.Action == ActionAllow) {
					t.Errorf("revision %d decided %s", d.Revision, d.Action)
					return
				}
			}
		})
	}
	for rev := int64(1); rev <= 200; rev++ {
		docs := deny
		if rev%2 == 1 {
			docs = allow
		}
		if err := e.LoadJSON(rev, docs); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if e.Revision() != 200 {
		t.Errorf("Revision = %d, want 200", e.Revision())
	}
}
