package didyoumean

import "testing"

func TestNearest(t *testing.T) {
	cmds := []string{"create", "list", "show", "update", "delete", "revoke", "quarantine", "release"}
	flags := []string{"spiffe-id", "selector", "parent", "owner", "max-scope", "x509-ttl", "o", "output"}
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"lst", cmds, "list"},
		{"lsit", cmds, "list"},
		{"delte", cmds, "delete"},
		{"quarantin", cmds, "quarantine"},
		{"frob", cmds, ""},
		{"selectors", flags, "selector"},
		{"spiffeid", flags, "spiffe-id"},
		{"max-scopes", flags, "max-scope"},
		{"x", flags, ""},
		{"parents-of-the-entry", flags, "parent"},
		{"", flags, ""},
		{"list", cmds, ""}, // itself is no suggestion
	} {
		if got := Nearest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"list", "lst", 1}, {"flaw", "lawn", 2}, {"entyr", "entry", 1}, {"ca", "abc", 3}} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := Distance(tc.b, tc.a); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}
