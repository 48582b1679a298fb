package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TestCase is one case of a policy test file: an input and the decision
// expected for it.
type TestCase struct {
	// Name labels the case in reports.
	Name string `json:"name"`
	// Input is the call.
	Input Input `json:"input"`
	// Expect is the expected enforced action. Required.
	Expect Action `json:"expect"`
	// Rule, if set, is the expected deciding rule as "policy#index".
	Rule string `json:"rule,omitempty"`
	// DryRun, if set, is the expected dry-run action.
	DryRun Action `json:"dry_run,omitempty"`
}

// testFile is the shape of a test file.
type testFile struct {
	Cases []TestCase `json:"cases"`
}

// ParseTests reads a test file: YAML (or JSON) with a "cases" list whose
// items have name, input (the JSON form of [Input]), expect (an action),
// and optionally rule ("policy#index") and dry_run (an action). It returns
// an error naming file and case for anything else.
func ParseTests(file string, data []byte) ([]TestCase, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, MaxFileSize)
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", file, yamlError(file, err).Msg)
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var tf testFile
	if err := decodeStrict(j, &tf); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(tf.Cases) == 0 {
		return nil, fmt.Errorf("%s: no cases (want a top-level \"cases\" list)", file)
	}
	for i, c := range tf.Cases {
		if c.Expect == 0 {
			return nil, fmt.Errorf("%s: case %d (%s): expect is required", file, i, c.Name)
		}
		if tf.Cases[i].Name == "" {
			tf.Cases[i].Name = fmt.Sprintf("case %d", i)
		}
	}
	return tf.Cases, nil
}

// jsonable turns what yaml.v3 decodes into values encoding/json accepts
// (maps with non-string keys become maps with string keys).
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
	}
	return v
}

// TestResult is the outcome of one case.
type TestResult struct {
	Case TestCase
	Got  Decision
	// Pass says the decision was as expected; Msg says how it differed.
	Pass bool
	Msg  string
}

// TestReport is the outcome of [RunTests].
type TestReport struct {
	Results        []TestResult
	Passed, Failed int
}

// RunTests decides each case with s and compares the result with what it
// expects.
func RunTests(s *Set, cases []TestCase) *TestReport {
	rep := &TestReport{}
	for _, c := range cases {
		in := c.Input
		d := s.Decide(&in)
		res := TestResult{Case: c, Got: d, Pass: true}
		var diffs []string
		if d.Action != c.Expect {
			diffs = append(diffs, fmt.Sprintf("got %s, want %s", d.Action, c.Expect))
		}
		if c.Rule != "" && d.Rule.String() != c.Rule {
			diffs = append(diffs, fmt.Sprintf("decided by %q, want %q", d.Rule.String(), c.Rule))
		}
		if c.DryRun != 0 {
			switch {
			case !d.HasDryRun:
				diffs = append(diffs, fmt.Sprintf("no dry-run policy applies, want dry run %s", c.DryRun))
			case d.DryRun.Action != c.DryRun:
				diffs = append(diffs, fmt.Sprintf("dry run got %s, want %s", d.DryRun.Action, c.DryRun))
			}
		}
		if len(diffs) > 0 {
			res.Pass, res.Msg = false, strings.Join(diffs, "; ")
			rep.Failed++
		} else {
			rep.Passed++
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

// WriteText writes the report like `opa test`: a line per failed case
// (per case with verbose), then the totals.
func (rep *TestReport) WriteText(w io.Writer, verbose bool) error {
	var b strings.Builder
	for _, r := range rep.Results {
		switch {
		case !r.Pass:
			fmt.Fprintf(&b, "FAIL: %s: %s (%s)\n", r.Case.Name, r.Msg, r.Got.Reason)
		case verbose:
			fmt.Fprintf(&b, "PASS: %s: %s (%s)\n", r.Case.Name, r.Got.Action, r.Got.Reason)
		}
	}
	b.WriteString(strings.Repeat("-", 72) + "\n")
	total := rep.Passed + rep.Failed
	fmt.Fprintf(&b, "PASS: %d/%d\n", rep.Passed, total)
	if rep.Failed > 0 {
		fmt.Fprintf(&b, "FAIL: %d/%d\n", rep.Failed, total)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseInput reads an [Input] in its JSON form (as `kith policy explain
// --request` takes it), refusing unknown fields.
func ParseInput(data []byte) (*Input, error) {
	var in Input
	if err := decodeStrict(data, &in); err != nil {
		return nil, fmt.Errorf("policy: input: %w", err)
	}
	return &in, nil
}
