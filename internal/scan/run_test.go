package scan

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kith-dev/kith/api"
)

func TestRunExitCodes(t *testing.T) {
	p := plant(t, "planted.txtar") // files only: no git needed
	clean := t.TempDir()
	writeFile(t, filepath.Join(clean, "main.go"), "package main\n")
	live := liveIf(p.values["kith_secret"])
	none := func(api.SecretCheck) (*api.SecretCheckResult, error) { return &api.SecretCheckResult{}, nil }
	down := func(api.SecretCheck) (*api.SecretCheckResult, error) { return nil, errors.New("refused") }
	tests := []struct {
		name    string
		path    string
		answer  func(api.SecretCheck) (*api.SecretCheckResult, error)
		want    int // exit code: 0 nil, 1 other error, or FoundError's
		summary string
	}{
		{"nothing found", clean, nil, 0, ""},
		{"found, no server", p.dir, nil, ExitFound, "7 secrets found, 3 of them Kith client secrets: 3 not checked"},
		{"found, none live", p.dir, none, ExitFound, "7 secrets found, 3 of them Kith client secrets"},
		{"found a live one", p.dir, live, ExitLive, "7 secrets found, 3 of them Kith client secrets: 2 live"},
		{"the check failed", p.dir, down, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			cfg := Config{Paths: []string{tc.path}, History: HistoryNone}
			if tc.answer != nil {
				cfg.Checker = &fakeChecker{answer: tc.answer}
			}
			err := Run(t.Context(), RunConfig{Config: cfg, Format: FormatJSON, Out: &out, Stderr: &stderr})
			got := 0
			var fe *FoundError
			switch {
			case errors.As(err, &fe):
				got = fe.ExitCode()
				if fe.Error() != tc.summary {
					t.Errorf("error %q, want %q", fe.Error(), tc.summary)
				}
			case err != nil:
				got = 1
			}
			if got != tc.want {
				t.Errorf("Run = %v: exit %d, want %d", err, got, tc.want)
			}
			if !strings.HasPrefix(out.String(), "{") {
				t.Errorf("no JSON report written: %q", out.String())
			}
			if tc.want == 0 && stderr.String() != "No secrets found.\n" {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}

func TestRunFormats(t *testing.T) {
	p := plant(t, "planted.txtar")
	for format, prefix := range map[string]string{"": "RULE", FormatTable: "RULE", FormatJSON: `{` + "\n" + `  "findings"`, FormatSARIF: `{` + "\n" + `  "$schema"`} {
		var out bytes.Buffer
		err := Run(t.Context(), RunConfig{Config: Config{Paths: []string{p.dir}}, Format: format, Out: &out})
		if !errors.As(err, new(*FoundError)) {
			t.Errorf("format %q: %v", format, err)
		}
		if !strings.HasPrefix(out.String(), prefix) {
			t.Errorf("format %q: output starts %q", format, out.String()[:min(40, out.Len())])
		}
	}
	err := Run(t.Context(), RunConfig{Config: Config{Paths: []string{p.dir}}, Format: "xml", Out: &bytes.Buffer{}})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("format xml: %v, want ErrConfig", err)
	}
}
