package scan

import (
	"encoding/json"
	"io"
	"net/url"
	"path"
	"strings"
)

// SARIF 2.1.0 (OASIS), the parts a scan report uses. Code hosts read it:
// GitHub code scanning shows each result on its line.
const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// sarifFingerprint names the partial fingerprint of a result: the
	// finding's Fingerprint, stable across scans.
	sarifFingerprint = "kithScan/v1"
	// srcRoot is the base of relative file URIs: the folder kith scan ran
	// in, which a code host maps to the checkout.
	srcRoot = "%SRCROOT%"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string            `json:"id"`
	ShortDescription     sarifText         `json:"shortDescription"`
	DefaultConfiguration sarifRuleConfig   `json:"defaultConfiguration"`
	Properties           sarifRuleProperty `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProperty struct {
	Tags []string `json:"tags"`
	// SecuritySeverity (0.0 to 10.0) is what GitHub code scanning ranks
	// security results by: 9.0 and above is critical.
	SecuritySeverity string `json:"security-severity"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          *sarifResultProps `json:"properties,omitempty"`
}

type sarifResultProps struct {
	Commit string      `json:"commit,omitempty"`
	Date   string      `json:"date,omitempty"`
	Kith   *KithStatus `json:"kith,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

// WriteSARIF writes the report as a SARIF 2.1.0 log with one run, whose
// tool names version. The rules are those that found something; every
// result is an error, with the finding's fingerprint and, for a Kith
// secret, what the server said of it. A finding from the history points
// to the file's path: code hosts show it on the file as it is now.
func (r *Report) WriteSARIF(w io.Writer, version string) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "kith scan", InformationURI: "https://github.com/kith-dev/kith",
			Version: version, Rules: []sarifRule{}}},
		ColumnKind: "utf16CodeUnits",
		Results:    []sarifResult{},
	}
	index := map[string]int{}
	for i := range r.Findings {
		f := &r.Findings[i]
		ri, ok := index[f.RuleID]
		if !ok {
			ri = len(run.Tool.Driver.Rules)
			index[f.RuleID] = ri
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleOf(f))
		}
		run.Results = append(run.Results, sarifResultOf(f, ri))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

func sarifRuleOf(f *Finding) sarifRule {
	sev := "8.0"
	if f.RuleID == RuleKithSecret {
		sev = "9.0"
	}
	return sarifRule{ID: f.RuleID, ShortDescription: sarifText{f.Description},
		DefaultConfiguration: sarifRuleConfig{Level: "error"},
		Properties:           sarifRuleProperty{Tags: []string{"security", "secret"}, SecuritySeverity: sev}}
}

func sarifResultOf(f *Finding, ruleIndex int) sarifResult {
	msg := "A hard-coded secret (" + f.RuleID + "): " + f.Secret
	if f.Commit != "" {
		msg += ", added in commit " + shortCommit(f.Commit)
	}
	if d := f.Kith.describe(); d != "" {
		msg += "; " + d
	}
	res := sarifResult{
		RuleID: f.RuleID, RuleIndex: ruleIndex, Level: "error", Message: sarifText{msg + "."},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
			ArtifactLocation: artifactOf(f.File),
			Region:           sarifRegion{StartLine: max(f.Line, 1), StartColumn: f.Column, EndLine: f.EndLine, EndColumn: f.EndColumn},
		}}},
		PartialFingerprints: map[string]string{sarifFingerprint: f.Fingerprint},
	}
	if f.Commit != "" || f.Kith != nil {
		res.Properties = &sarifResultProps{Commit: f.Commit, Date: f.Date, Kith: f.Kith}
	}
	if res.Locations[0].PhysicalLocation.Region.EndLine < res.Locations[0].PhysicalLocation.Region.StartLine {
		res.Locations[0].PhysicalLocation.Region.EndLine = 0
	}
	return res
}

// artifactOf is the SARIF location of a file: a URI relative to the
// folder the scan ran in, or a file URI for an absolute path.
func artifactOf(file string) sarifArtifact {
	if path.IsAbs(file) {
		return sarifArtifact{URI: (&url.URL{Scheme: "file", Path: file}).String()}
	}
	file = strings.TrimPrefix(path.Clean(file), "./")
	return sarifArtifact{URI: (&url.URL{Path: file}).String(), URIBaseID: srcRoot}
}
