package remediation

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParse feeds arbitrary files to the ladder parser. It must not
// panic; an error must be an ErrorList of placed problems; whatever it
// accepts must be accepted by New, and must survive Marshal and Parse
// unchanged.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("testdata/remediation.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("ladders:\n  - name: a\n    identities: x\n    steps: [{level: low, action: observe}]\n"))
	f.Add([]byte("ladders:\n  - name: a\n    identities: [spiffe://*/a/**]\n    max_quarantine_share: 50%\n" +
		"    steps: [{level: untrusted, after: 1h, action: quarantine, min_signals: 3, min_severity: critical}]\n"))
	f.Add([]byte("webhook: {url: 'http://127.0.0.1:9/x', secret_file: s, attempts: 3, queue: 10}\nladders: []\n"))
	f.Add([]byte("x: &a [1]\nladders: *a\n"))
	f.Add([]byte("---\n"))
	f.Add([]byte("ladders: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse error %v (%T) is not a non-empty ErrorList", err, err)
			}
			return
		}
		if _, err := New(Config{Ladders: file.Ladders, Auditor: &events{}, Fleet: fleetFunc(nil), Actions: &fakeActions{}}); err != nil {
			t.Fatalf("New refuses what Parse accepted: %v", err)
		}
		out, err := Marshal(file)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal(f)): %v\n%s", err, out)
		}
		if d := cmp.Diff(file, back, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("round trip changed the file (-before +after):\n%s", d)
		}
	})
}
