package entryfile

import (
	"bytes"
	cmp2 "cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kith-dev/kith/api"
)

func TestParse(t *testing.T) {
	yamlFile := `# two workloads
- spiffe_id: spiffe://example.org/orders
  selectors: [unix:uid:1000, "unix:path:/usr/bin/orders"]
  parent_id: spiffe://example.org/kith/agent/a1
  max_scopes: [orders.read]
  x509_svid_ttl: 30m
  labels: {env: prod}
- spiffe_id: spiffe://example.org/billing
  selectors:
    - unix:uid:1001
  any_agent: true
  jwt_svid_ttl: 60
`
	items, err := Parse("entries.yaml", []byte(yamlFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{
		{Entry: api.Entry{SPIFFEID: "spiffe://example.org/orders", Selectors: []string{"unix:uid:1000", "unix:path:/usr/bin/orders"},
			ParentID: "spiffe://example.org/kith/agent/a1", MaxScopes: []string{"orders.read"}, X509SVIDTTL: api.Duration(30 * time.Minute),
			Labels: map[string]string{"env": "prod"}}, Line: 2, Column: 3},
		{Entry: api.Entry{SPIFFEID: "spiffe://example.org/billing", Selectors: []string{"unix:uid:1001"}, AnyAgent: true,
			JWTSVIDTTL: api.Duration(time.Minute)}, Line: 8, Column: 3},
	}
	if d := cmp.Diff(want, items); d != "" {
		t.Errorf("Parse (-want +got):\n%s", d)
	}
	jsonFile := `[{"spiffe_id": "spiffe://example.org/orders", "selectors": ["unix:uid:1000"]}]`
	if items, err := Parse("e.json", []byte(jsonFile)); err != nil || len(items) != 1 || items[0].Entry.Selectors[0] != "unix:uid:1000" {
		t.Errorf("JSON: %+v, %v", items, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "f.yaml: no entries"},
		{"empty list", "[]", "f.yaml:1:1: no entries"},
		{"not a list", "spiffe_id: x", "f.yaml:1:1: want a list of entries"},
		{"typo", "- spiffe_id: x\n  selector: [a]\n", `f.yaml:2:3: entries[0]: unknown field "selector" (did you mean "selectors"?)`},
		{"server field", "- spiffe_id: x\n- id: abc\n", "f.yaml:2:3: entries[1]: id is assigned by the server"},
		{"wrong type", "- selectors: unix:uid:1\n", "f.yaml:1:14: entries[0]: selectors: want a list, not string"},
		{"bad duration", "- x509_svid_ttl: soon\n", `f.yaml:1:18: entries[0]: x509_svid_ttl: bad duration "soon"`},
		{"twice", "- owner: a\n  owner: b\n", "f.yaml"},
		{"alias", "- labels: &l {a: b}\n- labels: *l\n", "aliases"},
		{"scalar item", "- just a string\n", "f.yaml:1:3: entries[0]: want a mapping"},
		{"two documents", "- owner: a\n---\n- owner: b\n", "want one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.file))
			if !errors.Is(err, ErrFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want ErrFile with %q", err, tc.want)
			}
		})
	}
}

// TestRoundTrip: what Write writes, Parse reads back as the same entries,
// without what the server assigns.
func TestRoundTrip(t *testing.T) {
	stored := []api.Entry{
		{ID: "e1", SPIFFEID: "spiffe://example.org/a-orders", Selectors: []string{"unix:uid:1000"}, ParentID: "spiffe://example.org/kith/agent/a1",
			Owner: "team: orders", Description: "yes", MaxScopes: []string{"a", "b"}, X509SVIDTTL: api.Duration(90 * time.Minute),
			Labels: map[string]string{"env": "prod", "tier": "1"}, Status: "quarantined", Revision: 4, CreatedAt: time.Now(), UpdatedAt: time.Now()},
		{ID: "e2", SPIFFEID: "spiffe://example.org/x", Selectors: []string{"unix:uid:1"}, AnyAgent: true, Description: "123"},
	}
	for _, format := range []string{"yaml", "json"} {
		var buf bytes.Buffer
		if err := Write(&buf, stored, format); err != nil {
			t.Fatal(err)
		}
		items, err := Parse("export."+format, buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		for i, it := range items { // stored is in SPIFFE ID order
			if d := cmp.Diff(Export(stored[i]), it.Entry); d != "" {
				t.Errorf("%s entry %d (-want +got):\n%s", format, i, d)
			}
		}
		if strings.Contains(buf.String(), "e1") || strings.Contains(buf.String(), "revision") {
			t.Errorf("%s export holds server fields:\n%s", format, buf.String())
		}
	}
}

// FuzzParse: any input is refused with ErrFile or parsed into entries
// that Write and Parse keep unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte("- spiffe_id: spiffe://example.org/a\n  selectors: [unix:uid:1]\n  labels: {a: b}\n  x509_svid_ttl: 1h\n"))
	f.Add([]byte(`[{"spiffe_id":"x","any_agent":true,"max_scopes":["s"]}]`))
	f.Add([]byte("- {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := Parse("fuzz", data)
		if err != nil {
			if !errors.Is(err, ErrFile) {
				t.Fatalf("error without ErrFile: %v", err)
			}
			return
		}
		entries := make([]api.Entry, len(items))
		for i, it := range items {
			entries[i] = it.Entry
		}
		var buf bytes.Buffer
		if err := Write(&buf, entries, "yaml"); err != nil {
			t.Fatal(err)
		}
		again, err := Parse("again", buf.Bytes())
		if err != nil {
			t.Fatalf("Parse(Write(x)): %v\n%s", err, buf.String())
		}
		var buf2 bytes.Buffer
		if err := Write(&buf2, entries, "yaml"); err != nil || buf2.String() != buf.String() {
			t.Fatalf("Write is not deterministic: %v", err)
		}
		sorted := slices.Clone(entries)
		slices.SortStableFunc(sorted, func(a, b api.Entry) int {
			return cmp2.Or(strings.Compare(a.SPIFFEID, b.SPIFFEID), strings.Compare(a.ParentID, b.ParentID), slices.Compare(a.Selectors, b.Selectors))
		})
		for i := range again {
			if d := cmp.Diff(sorted[i], again[i].Entry, cmpopts.EquateEmpty()); d != "" {
				t.Fatalf("round trip (-first +second):\n%s", d)
			}
		}
	})
}
