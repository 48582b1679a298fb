package scan

import (
	"io"
	"os"
	"testing"
)

// TestMain sends gitleaks' warnings (such as the git errors some tests
// cause on purpose) nowhere: its logger is set once per process.
func TestMain(m *testing.M) {
	quietGitleaks(io.Discard)
	os.Exit(m.Run())
}
