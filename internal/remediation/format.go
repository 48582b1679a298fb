package remediation

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kith-dev/kith/internal/trust"
)

// Marshal renders f as a ladder file that [Parse] reads back to f, with
// every default written out: what a running server makes of a file.
func Marshal(f *File) ([]byte, error) {
	y := yFile{}
	if w := f.Webhook; w != nil {
		y.Webhook = &yWebhook{URL: w.URL, SecretFile: w.SecretFile, Timeout: dur(w.Timeout), Attempts: w.Attempts, Queue: w.Queue}
	}
	for _, l := range f.Ladders {
		yl := yLadder{Name: l.Name, Description: l.Description, Identities: l.Identities, Allow: l.Allow,
			Mode: string(l.Mode), MinSignals: l.Evidence.Signals, MinSeverity: sev(l.Evidence.Severity),
			Cooldown: dur(l.Cooldown), MaxQuarantineShare: l.MaxQuarantineShare}
		for _, s := range l.Steps {
			yl.Steps = append(yl.Steps, yStep{Level: s.Level.String(), After: dur(s.After), Action: string(s.Action),
				MinSignals: s.Evidence.Signals, MinSeverity: sev(s.Evidence.Severity)})
		}
		y.Ladders = append(y.Ladders, yl)
	}
	b, err := yaml.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("remediation: encode ladders: %w", err)
	}
	return b, nil
}

func dur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func sev(s trust.Severity) string {
	if s == 0 {
		return ""
	}
	return s.String()
}

// The YAML shape of a ladder file.
type (
	yFile struct {
		Webhook *yWebhook `yaml:"webhook,omitempty"`
		Ladders []yLadder `yaml:"ladders"`
	}
	yWebhook struct {
		URL        string `yaml:"url"`
		SecretFile string `yaml:"secret_file"`
		Timeout    string `yaml:"timeout,omitempty"`
		Attempts   int    `yaml:"attempts,omitempty"`
		Queue      int    `yaml:"queue,omitempty"`
	}
	yLadder struct {
		Name               string   `yaml:"name"`
		Description        string   `yaml:"description,omitempty"`
		Identities         []string `yaml:"identities"`
		Allow              []string `yaml:"allow,omitempty"`
		Mode               string   `yaml:"mode"`
		MinSignals         int      `yaml:"min_signals,omitempty"`
		MinSeverity        string   `yaml:"min_severity,omitempty"`
		Cooldown           string   `yaml:"cooldown,omitempty"`
		MaxQuarantineShare float64  `yaml:"max_quarantine_share,omitempty"`
		Steps              []yStep  `yaml:"steps"`
	}
	yStep struct {
		Level       string `yaml:"level"`
		After       string `yaml:"after,omitempty"`
		Action      string `yaml:"action"`
		MinSignals  int    `yaml:"min_signals,omitempty"`
		MinSeverity string `yaml:"min_severity,omitempty"`
	}
)
