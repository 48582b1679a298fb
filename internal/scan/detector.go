package scan

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/logging"

	"github.com/kith-dev/kith/internal/oauth"
)

// RuleKithSecret is the ID of the rule that finds Kith client secrets. A
// match is reported only when its checksum is valid (see
// [oauth.ParseSecret]): every secret Kith ever issued carries one, so a
// string of the right shape with a wrong checksum is a placeholder, a
// typo or a test value, never a credential.
const RuleKithSecret = "kith-client-secret"

// kithRule is the rule for Kith's own secrets, in gitleaks' configuration
// format, appended to its default rules.
const kithRule = `
[[rules]]
id = "` + RuleKithSecret + `"
description = "A Kith OAuth client secret (kith_sk_ and 49 base62 characters, the last 6 a CRC32 of the rest)."
regex = '''\b(` + oauth.SecretPrefix + `[0-9A-Za-z]{49})\b'''
keywords = ["` + oauth.SecretPrefix + `"]
tags = ["kith", "oauth", "client-secret"]
`

// rules returns gitleaks' default rules with Kith's own added, translated
// once: a fresh detector is made from them for each source.
func rules() (config.Config, error) {
	v := viper.New() // not gitleaks' global one: scans may run side by side
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig + kithRule)); err != nil {
		return config.Config{}, fmt.Errorf("scan: gitleaks rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return config.Config{}, fmt.Errorf("scan: gitleaks rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return config.Config{}, fmt.Errorf("scan: gitleaks rules: %w", err)
	}
	return cfg, nil
}

// quietOnce turns gitleaks' logger, a package variable that writes every
// informational message to standard error, to warnings only (a file it
// could not read, a git error), once per process.
var quietOnce sync.Once

// quietGitleaks sets gitleaks' logger to warnings on w, the first time it
// is called. gitleaks logs the text of a finding at debug level: its
// level must never go below warnings.
func quietGitleaks(w io.Writer) {
	quietOnce.Do(func() {
		logging.Logger = zerolog.New(zerolog.ConsoleWriter{Out: w, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}}).
			Level(zerolog.WarnLevel)
	})
}
