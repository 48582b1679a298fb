package trust

import (
	"fmt"
	"strings"
)

// The source detector knows where a caller calls from. A place is an
// IPv4 /24 or IPv6 /64 network and, within it, a host (the IPv4 address,
// or the /64 again); the reporting node stands in for both when the
// source address is unknown (see placeOf).
//
//   - source.new_network: every network the caller ever used is in a
//     256-bit Bloom filter, the last four with their last use. A caller
//     that used no new network for NewNetworkStable (a day) and now calls
//     from one it never used raises a medium signal, high when all its
//     known networks are private and the new one is public. A caller that
//     keeps adding networks (autoscaling across subnets) is never stable
//     and so never raises it: it adapts. Being new is not suspicious; a
//     new network after a stable history is.
//   - source.concurrent: a credential used from two hosts in overlapping
//     time (the caller's sessions, see sessions): a host uses it again
//     after another host used it within the hour (the uses alternate:
//     both copies are in use, a copy, not a move), or a host starts
//     using it less than Overlap after another's last use. It raises a
//     high signal. A caller
//     whose credentials are shared by design (a client secret used by
//     several instances) shows it in its first day (three such uses), or
//     by three such incidents; from then on its credentials are taken as
//     shared.
type sourceState struct {
	nets   [4]uint64 // the last networks used
	netAt  [4]uint32 // their last use
	bloom  [4]uint64 // every network used
	newAt  uint32    // when a network was last new to the caller
	shared uint8     // concurrent uses seen: its credentials are shared at sharedLimit
	_      [3]byte
}

const (
	sharedLimit     = 3
	alternateWindow = 3600 // seconds: how far back the other host's use counts when the uses alternate
)

// sources checks and learns the call's network and the places of its
// credential.
func (e *Engine) sources(o *obs) {
	if o.net == 0 {
		return
	}
	s := &o.cs.src
	e.network(o, s, o.net)
	otherT := o.otherAt
	if o.cred == 0 || otherT == 0 {
		return
	}
	// Both copies in use: this host used the credential before the other
	// did, and uses it again (within a credential's life); or it starts
	// using it right after the other did.
	alternate := o.sessAt != 0 && o.sessAt < otherT && o.sec-otherT < alternateWindow
	handover := o.sessAt == 0 && o.sec-otherT < e.overlap
	if !alternate && !handover {
		return
	}
	if !o.warm { // shared by design: seen again and again in the caller's first day
		s.shared = min(s.shared+1, sharedLimit)
		return
	}
	if s.shared >= sharedLimit {
		return
	}
	if !e.active(o.cs, SourceConcurrent, o.sec) {
		s.shared++
	}
	gap := o.sec - otherT
	e.raise(o, SourceConcurrent, High, func() map[string]string {
		return map[string]string{
			"expected": "one place at a time for credential " + o.c.Credential,
			"seen":     fmt.Sprintf("used from %s (%s) %ds after its use from another host", o.c.Source, networkString(o.c), gap),
			"network":  networkString(o.c),
		}
	})
}

// network checks and learns the call's network.
func (e *Engine) network(o *obs, s *sourceState, netK uint64) {
	lru := 0
	for i, k := range s.nets {
		if k == netK {
			s.netAt[i] = o.sec
			return
		}
		if s.netAt[i] < s.netAt[lru] {
			lru = i
		}
	}
	allPrivate := true
	for _, k := range s.nets {
		if k != 0 && !private(k) {
			allPrivate = false
		}
	}
	known := s.nets
	s.nets[lru], s.netAt[lru] = netK, o.sec
	if h := hashUint(e.seed, netK); bloomTest(s.bloom[:], h) {
		return
	} else {
		bloomAdd(s.bloom[:], h)
	}
	stableFor := o.sec - s.newAt
	first := s.newAt == 0
	s.newAt = o.sec
	if first || !o.warm || stableFor < e.stable {
		return
	}
	sev := Medium
	if allPrivate && !private(netK) {
		sev = High
	}
	e.raise(o, SourceNewNetwork, sev, func() map[string]string {
		var names []string
		for _, k := range known {
			if k != 0 {
				names = append(names, knownNetworkString(k))
			}
		}
		return map[string]string{
			"expected": fmt.Sprintf("networks used before (%s; none new for %s)", strings.Join(names, ", "), durationText(stableFor)),
			"seen":     "call from " + networkString(o.c),
			"network":  networkString(o.c),
		}
	})
}

// durationText formats seconds for evidence, as "3h", "25m" or "40s".
func durationText(s uint32) string {
	switch {
	case s >= 2*86400:
		return fmt.Sprintf("%dd", s/86400)
	case s >= 3600:
		return fmt.Sprintf("%dh", s/3600)
	case s >= 60:
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}
