package policy

import "testing"

func TestIDPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		id      string
		want    bool
	}{
		{"spiffe://example.org/billing", "spiffe://example.org/billing", true},
		{"spiffe://example.org/billing", "spiffe://example.org/billing2", false},
		{"spiffe://example.org/ns/*/sa/reports", "spiffe://example.org/ns/finance/sa/reports", true},
		{"spiffe://example.org/ns/*/sa/reports", "spiffe://example.org/ns/a/b/sa/reports", false},
		{"spiffe://example.org/ns/fin*/sa/*", "spiffe://example.org/ns/finance/sa/x", true},
		{"spiffe://example.org/ns/fin*/sa/*", "spiffe://example.org/ns/hr/sa/x", false},
		{"spiffe://example.org/**", "spiffe://example.org/a", true},
		{"spiffe://example.org/**", "spiffe://example.org/a/b/c", true},
		{"spiffe://example.org/**", "spiffe://example.org", false},
		{"spiffe://example.org/**", "spiffe://other.org/a", false},
		{"spiffe://*/app", "spiffe://partner.example/app", true},
		{"spiffe://*/app", "spiffe://partner.example/app/x", false},
		{"spiffe://example.org/a/*", "spiffe://example.org/a/", false},
		{"spiffe://example.org/a/*", "not-spiffe://example.org/a/b", false},
		{"spiffe://example.org/*x*y", "spiffe://example.org/axbyy", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.id, func(t *testing.T) {
			p, err := compileIDPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(tt.id); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBadIDPatterns(t *testing.T) {
	for _, s := range []string{
		"example.org/a", "spiffe://Example.org/a", "spiffe://example.org/a/", "spiffe://example.org/*/",
		"spiffe://exa*le.org/a", "spiffe://example.org/**/a", "spiffe://example.org/a**", "spiffe://example.org//a",
		"spiffe://example.org/a b", "spiffe://example.org/../a", "spiffe://example.org/*/../a",
	} {
		if _, err := compileIDPattern(s); err == nil {
			t.Errorf("compileIDPattern(%q) accepted", s)
		}
	}
}

func TestPathPatterns(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/healthz", "/healthz", true},
		{"/healthz", "/healthz/", false},
		{"/", "/", true},
		{"/api/*", "/api/", true},
		{"/api/*", "/api/v1/x", true},
		{"/api/*", "/api", false},
		{"/api/*", "/apix/y", false},
		{"/*", "/anything/at/all", true},
		{"/orders/{id}", "/orders/42", true},
		{"/orders/{id}", "/orders/", false},
		{"/orders/{id}", "/orders", false},
		{"/orders/{id}", "/orders/42/items", false},
		{"/orders/{id}/items/{item}", "/orders/42/items/7", true},
		{"/orders/{id}/items/{item}", "/orders/42/lines/7", false},
		{"/orders/{id}/*", "/orders/42/items/7", true},
		{"/orders/{id}/*", "/orders/42", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			p, err := compilePath(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.match(tt.path); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"api", "/a/*/b", "/a/{x", "/a/{1x}", "/a//b", "/a/../b", "/a/b*", "/a/{}"} {
		if _, err := compilePath(bad); err == nil {
			t.Errorf("compilePath(%q) accepted", bad)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true}, {"/a/b", true}, {"/a/b/", true}, {"/a.b/c..d", true},
		{"", false}, {"a", false}, {"//a", false}, {"/a//b", false}, {"/a/./b", false}, {"/a/..", false},
		{"/a/../b", false}, {"/.", false}, {"/a\x00", false}, {"/a?b", false}, {"/a#b", false},
	}
	for _, tt := range tests {
		if got := canonicalPath(tt.path); got != tt.want {
			t.Errorf("canonicalPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestHostPatterns(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"orders.internal", "orders.internal", true},
		{"orders.internal", "ORDERS.internal:8443", true},
		{"orders.internal:8443", "orders.internal:8443", true},
		{"orders.internal:8443", "orders.internal", false},
		{"*.example.org", "a.example.org", true},
		{"*.example.org", "a.b.example.org:443", true},
		{"*.example.org", "example.org", false},
		{"*.example.org", "badexample.org", false},
	}
	for _, tt := range tests {
		h, err := compileHost(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.match(tt.host); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
	for _, bad := range []string{"", "*", "a/b", "a:x", "*.", "a:123456"} {
		if _, err := compileHost(bad); err == nil {
			t.Errorf("compileHost(%q) accepted", bad)
		}
	}
}
