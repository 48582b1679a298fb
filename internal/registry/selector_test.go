package registry

import (
	"errors"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in      string
		want    Selector
		wantErr bool
	}{
		{in: "unix:uid:1000", want: Selector{"unix", "uid:1000"}},
		{in: "unix:gid:0", want: Selector{"unix", "gid:0"}},
		{in: "unix:user:svc-orders", want: Selector{"unix", "user:svc-orders"}},
		{in: "unix:path:/usr/local/bin/orders", want: Selector{"unix", "path:/usr/local/bin/orders"}},
		{in: "unix:sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", want: Selector{"unix", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{in: "k8s:ns:payments", want: Selector{"k8s", "ns:payments"}},
		{in: "", wantErr: true},
		{in: "unix", wantErr: true},
		{in: ":value", wantErr: true},
		{in: "Unix:uid:1", wantErr: true},
		{in: "unix:", wantErr: true},
		{in: "unix:uid:", wantErr: true},
		{in: "unix:uid:01", wantErr: true},
		{in: "unix:uid:4294967296", wantErr: true},
		{in: "unix:path:relative/bin", wantErr: true},
		{in: "unix:sha256:ABCDEF", wantErr: true},
		{in: "unix:color:blue", wantErr: true},
		{in: "k8s:ns:a\nb", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSelector(tt.in)
			if tt.wantErr {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "selectors" {
					t.Fatalf("ParseSelector(%q) = %v, %v; want a selectors ValidationError", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSelector(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// FuzzParseSelector checks that any input either fails cleanly or parses to
// a selector whose text parses back to itself.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"unix:uid:1000", "unix:sha256:00", "k8s:ns:x", "a:b:c:d", "", ":", "unix:path:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again != sel {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}

// FuzzParseWorkloadID checks SPIFFE ID validation never panics and accepts
// only IDs in the trust domain that print back to themselves.
func FuzzParseWorkloadID(f *testing.F) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	for _, s := range []string{"spiffe://example.org/a", "spiffe://example.org", "spiffe://other/a", "spiffe://example.org/a/../b", "spiffe://example.org/%41", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseWorkloadID("spiffe_id", s, td)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if id.TrustDomain() != td || id.Path() == "" || id.String() != s {
			t.Fatalf("accepted %q as %v", s, id)
		}
	})
}
