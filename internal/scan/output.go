package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Summary counts a report's findings.
type Summary struct {
	// Found is the number of findings.
	Found int `json:"found"`
	// Kith is the findings of Kith client secrets; Live, Revoked,
	// Unchecked and CheckFailed count those among them that were live
	// when checked, revoked by this scan, not checked (no server, or
	// staged changes), and whose check failed.
	Kith        int `json:"kith"`
	Live        int `json:"live"`
	Revoked     int `json:"revoked"`
	Unchecked   int `json:"unchecked"`
	CheckFailed int `json:"check_failed"`
}

// Summary counts the report's findings.
func (r *Report) Summary() Summary {
	s := Summary{Found: len(r.Findings)}
	for _, f := range r.Findings {
		if f.Kith == nil {
			continue
		}
		s.Kith++
		switch f.Kith.Status {
		case StatusLive:
			s.Live++
		case StatusUnchecked:
			s.Unchecked++
		case StatusCheckFailed:
			s.CheckFailed++
		}
		if f.Kith.Revoked {
			s.Revoked++
		}
	}
	return s
}

// String says what the summary counts, in one line.
func (s Summary) String() string {
	if s.Found == 0 {
		return "no secrets found"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s found", s.Found, plural(s.Found, "secret", "secrets"))
	if s.Kith == 0 {
		return b.String()
	}
	switch {
	case s.Found == 1:
		b.WriteString(", a Kith client secret")
	case s.Kith == 1:
		b.WriteString(", 1 of them a Kith client secret")
	default:
		fmt.Fprintf(&b, ", %d of them Kith client secrets", s.Kith)
	}
	var parts []string
	if s.Live > 0 {
		parts = append(parts, fmt.Sprintf("%d live", s.Live))
	}
	if s.Revoked > 0 {
		parts = append(parts, fmt.Sprintf("%d revoked now", s.Revoked))
	}
	if s.Unchecked > 0 {
		parts = append(parts, fmt.Sprintf("%d not checked", s.Unchecked))
	}
	if s.CheckFailed > 0 {
		parts = append(parts, fmt.Sprintf("%d whose check failed", s.CheckFailed))
	}
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// WriteTable writes the report as a table, one finding a line.
func (r *Report) WriteTable(w io.Writer) error {
	if len(r.Findings) == 0 {
		_, err := fmt.Fprintln(w, "No secrets found.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLOCATION\tCOMMIT\tSECRET\tSTATUS")
	for i := range r.Findings {
		f := &r.Findings[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.RuleID, f.Location(), orDash(shortCommit(f.Commit)), f.Secret, orDash(f.Kith.describe()))
	}
	return tw.Flush()
}

// describe says in a few words what the server said of a Kith secret; ""
// for none.
func (k *KithStatus) describe() string {
	if k == nil {
		return ""
	}
	var s string
	switch k.Status {
	case StatusUnchecked:
		return "not checked with a server"
	case StatusUnknown:
		return "no client holds it"
	case StatusCheckFailed:
		return "check failed: " + k.Error
	case StatusLive:
		s = "LIVE"
	case StatusExpired:
		s = "expired"
	}
	s += ", client " + k.ClientID
	if k.SPIFFEID != "" {
		s += " (" + k.SPIFFEID + ")"
	}
	if k.Revoked {
		s += ", revoked now"
	}
	return s
}

func shortCommit(c string) string { return c[:min(len(c), 12)] }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonReport is the JSON form of a report.
type jsonReport struct {
	Findings []Finding `json:"findings"`
	Sources  []Source  `json:"sources"`
	Summary  Summary   `json:"summary"`
}

// WriteJSON writes the report as one JSON object: findings, sources and
// summary.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{Findings: r.Findings, Sources: r.Sources, Summary: r.Summary()}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	if out.Sources == nil {
		out.Sources = []Source{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
