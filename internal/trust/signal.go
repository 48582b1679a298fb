package trust

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/kith-dev/kith/internal/audit"
)

// Kind names what a signal is evidence of, as a dotted name whose first
// part is the detector.
type Kind uint8

// Signal kinds, one per detector finding.
const (
	// RateSpike: the caller's call rate over the last seconds is well
	// above the bursts it makes at this hour of day.
	RateSpike Kind = iota
	// RateSustained: the caller's calls per five minutes have stayed above
	// what it does at this hour of day for long enough (CUSUM).
	RateSustained
	// EndpointNew: the caller used route templates it had never used,
	// weighted by whether policy allows them.
	EndpointNew
	// SequenceSurprise: the caller's transitions between routes became
	// improbable under its own first-order model.
	SequenceSurprise
	// VolumeExfiltration: bytes per call, or per ten seconds, far above
	// the caller's history.
	VolumeExfiltration
	// VolumeLowAndSlow: the caller's bytes per five minutes have stayed
	// slightly above its history for long enough (CUSUM).
	VolumeLowAndSlow
	// SourceNewNetwork: a caller with a stable history called from a
	// network (IPv4 /24, IPv6 /64, or node) it had never used.
	SourceNewNetwork
	// SourceConcurrent: one credential used from two places in
	// overlapping time.
	SourceConcurrent
	// ErrorsBurst: a burst of 401, 403, 404 and 405 answers or denials,
	// well above the caller's usual share.
	ErrorsBurst
	// FanoutNewTargets: the caller reached services it had never called.
	FanoutNewTargets

	numKinds
)

var kindNames = [numKinds]string{
	RateSpike:          "rate.spike",
	RateSustained:      "rate.sustained",
	EndpointNew:        "endpoint.new",
	SequenceSurprise:   "sequence.surprise",
	VolumeExfiltration: "volume.exfiltration",
	VolumeLowAndSlow:   "volume.low_and_slow",
	SourceNewNetwork:   "source.new_network",
	SourceConcurrent:   "source.concurrent",
	ErrorsBurst:        "errors.burst",
	FanoutNewTargets:   "fanout.new_targets",
}

// Kinds returns every signal kind, in order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// String returns the kind's dotted name, such as "rate.spike".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the kind named s. It returns an error naming the
// known kinds for any other name.
func ParseKind(s string) (Kind, error) {
	if i := slices.Index(kindNames[:], s); i >= 0 {
		return Kind(i), nil
	}
	return 0, fmt.Errorf("unknown signal kind %q (known: %v)", s, kindNames)
}

// MarshalText returns the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kind's name, as [ParseKind].
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	*k = v
	return err
}

// Severity grades a signal.
type Severity uint8

// Severities, in increasing order.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = [...]string{"", "low", "medium", "high", "critical"}

// String returns "low", "medium", "high" or "critical".
func (s Severity) String() string {
	if int(s) < len(severityNames) && s > 0 {
		return severityNames[s]
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText returns the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity's name. It returns an error for an
// unknown one.
func (s *Severity) UnmarshalText(b []byte) error {
	i := slices.Index(severityNames[1:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = Severity(i + 1)
	return nil
}

// Signal is evidence about a caller: one incident found by one detector.
// Its JSON is the replay's output line.
type Signal struct {
	// Time is the time of the call that raised it.
	Time time.Time `json:"ts"`
	// Identity is the caller's SPIFFE ID (or client ID).
	Identity string `json:"identity"`
	// Credential is the ID of the credential of that call.
	Credential string `json:"credential"`
	// Kind says what was found.
	Kind Kind `json:"kind"`
	// Severity grades it.
	Severity Severity `json:"severity"`
	// Evidence says what was expected and what was seen: always the keys
	// "expected" and "seen", and further keys per kind (route, network,
	// window, ...).
	Evidence map[string]string `json:"evidence"`
}

// Event returns the ledger event of s, an audit.TypeTrustSignal whose
// actor is the caller and whose details are the evidence.
func (s *Signal) Event() audit.Event {
	d := maps.Clone(s.Evidence)
	if d == nil {
		d = map[string]string{}
	}
	d["kind"], d["severity"] = s.Kind.String(), s.Severity.String()
	return audit.Event{
		Time: s.Time, Type: audit.TypeTrustSignal,
		Actor:  audit.Actor{Kind: "system", ID: "kith-trust"},
		Target: s.Identity, Action: "detect", Outcome: audit.OutcomeSuccess,
		Reason:  s.Kind.String() + ": expected " + s.Evidence["expected"] + ", seen " + s.Evidence["seen"],
		Details: withCredential(d, s.Credential),
	}
}

// withCredential adds the credential ID to details, if any.
func withCredential(d map[string]string, cred string) map[string]string {
	if cred != "" {
		d["credential_id"] = cred
	}
	return d
}

// String returns a one-line summary of s.
func (s *Signal) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}
