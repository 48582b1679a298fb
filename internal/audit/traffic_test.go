package audit_test

import (
	"testing"

	"github.com/kith-dev/kith/internal/audit"
)

func TestIsTraffic(t *testing.T) {
	for _, tc := range []struct {
		typ, kind string
		want      bool
	}{
		{audit.TypeCallDecided, "workload", true},
		{audit.TypeOAuthTokenIssued, "client", true},
		{audit.TypeAgentRenewed, "agent", true},
		{audit.TypeSVIDX509Minted, "agent", true},
		{audit.TypeSVIDJWTMinted, "workload", true},
		{audit.TypeSVIDX509Minted, "admin", false},
		{audit.TypeEntryCreated, "admin", false},
		{audit.TypeOAuthTokenRefused, "client", false},
		{audit.TypeCAKeyActivated, "system", false},
	} {
		if got := audit.IsTraffic(tc.typ, tc.kind); got != tc.want {
			t.Errorf("audit.IsTraffic(%s, %s) = %v, want %v", tc.typ, tc.kind, got, tc.want)
		}
	}
}
