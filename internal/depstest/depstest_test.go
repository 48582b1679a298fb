package depstest

import "testing"

func TestUnder(t *testing.T) {
	list := []string{"github.com/jackc/pgx", "github.com/kith-dev/kith/internal/agent"}
	tests := []struct {
		dep  string
		want bool
	}{
		{"github.com/jackc/pgx", true},
		{"github.com/jackc/pgx/v5/pgconn", true},
		{"github.com/jackc/pgxpool", false},
		{"github.com/kith-dev/kith/internal/agentproto", false},
		{"github.com/kith-dev/kith/internal/agent", true},
	}
	for _, tt := range tests {
		if _, got := under(tt.dep, list); got != tt.want {
			t.Errorf("under(%q) = %v, want %v", tt.dep, got, tt.want)
		}
	}
}
