package trust

import "time"

// A caller is everything the engine knows about one identity: a fixed-size
// value without pointers (so the garbage collector never scans the
// engine's callers, and a snapshot is the value's bytes), about 1.8 KB.
// Times are seconds since epoch (see secOf); zero means never.
type caller struct {
	first, last uint32 // first and last call
	calls       uint32 // calls seen (saturating)

	rate  rateState
	route routeState
	seq   seqState
	sess  sessions
	src   sourceState
	errs  errorState
	fan   fanoutState
	inc   incidents
	trust trustState
}

// incidents is the dedup state of each kind of signal for one caller:
// the last time the detector found something and the severity raised for
// the incident. Findings within the cool-down of the last one belong to
// the same incident.
type incidents struct {
	last [numKinds]uint32
	sev  [numKinds]Severity
}

// epoch is the origin of the engine's second counters: 2020-01-01 UTC.
// uint32 seconds from it last until 2156.
const epoch = 1577836800

// secOf returns the engine's second counter of Unix milliseconds ms,
// clamped to [1, MaxUint32].
func secOf(ms int64) uint32 {
	s := ms/1000 - epoch
	switch {
	case s < 1:
		return 1
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// timeOf returns the time of a second counter.
func timeOf(s uint32) time.Time { return time.Unix(int64(s)+epoch, 0).UTC() }

// hourOf returns the hour of day (UTC) of a second counter.
func hourOf(s uint32) int { return int((uint64(s) + epoch) / 3600 % 24) }

// active reports whether an incident of kind k is under way for cs at
// sec: the detectors learn slowly, or not at all, from what they find
// during one, so that an attack does not become the new normal.
func (e *Engine) active(cs *caller, k Kind, sec uint32) bool {
	l := cs.inc.last[k]
	return l != 0 && sec-l < e.cooldown
}

// warm reports whether cs has left its warm-up at sec.
func (e *Engine) warm(cs *caller, sec uint32) bool {
	return sec-cs.first >= e.warmUp && cs.calls >= uint32(e.t.MinCalls)
}

// chunkSize is the number of callers per allocation of the engine's
// arena.
const chunkSize = 256

// at returns the caller at index i of the arena.
func (e *Engine) at(i int32) *caller { return &e.chunks[i/chunkSize][i%chunkSize] }

// lookup returns the index of identity, adding it (as first seen at sec)
// when new; it evicts the least recently seen of a few sampled callers
// when the engine is full.
func (e *Engine) lookup(identity string, sec uint32, credType string) int32 {
	if i, ok := e.index[identity]; ok {
		return i
	}
	var i int32
	switch {
	case len(e.free) > 0:
		i = e.free[len(e.free)-1]
		e.free = e.free[:len(e.free)-1]
	case len(e.ids) < e.maxCallers:
		i = int32(len(e.ids))
		if int(i)/chunkSize == len(e.chunks) {
			e.chunks = append(e.chunks, new([chunkSize]caller))
		}
		e.ids = append(e.ids, "")
	default:
		i = e.evict()
	}
	id := string([]byte(identity)) // the call's strings are not ours to keep
	e.ids[i] = id
	e.index[id] = i
	cs := e.at(i)
	*cs = caller{first: sec, last: sec}
	b := Strength(credType)
	cs.trust = trustState{base: uint16(b), baseAt: sec, reported: uint16(b), level: uint8(LevelOf(b))}
	e.stats.Callers++
	return i
}

// evict forgets the least recently seen of eight sampled callers and
// returns its index for reuse.
func (e *Engine) evict() int32 {
	best, bestLast := int32(-1), uint32(1<<32-1)
	for range 8 {
		e.rng ^= e.rng << 13
		e.rng ^= e.rng >> 7
		e.rng ^= e.rng << 17
		i := int32(e.rng % uint64(len(e.ids)))
		if e.ids[i] == "" {
			continue
		}
		if l := e.at(i).last; l < bestLast {
			best, bestLast = i, l
		}
	}
	if best < 0 {
		best = 0
	}
	e.forget(best)
	e.free = e.free[:len(e.free)-1] // forget freed it; the caller reuses it
	e.stats.Evicted++
	return best
}

// forget removes the caller at index i.
func (e *Engine) forget(i int32) {
	delete(e.index, e.ids[i])
	delete(e.contexts, e.ids[i])
	delete(e.dirty, i)
	e.ids[i] = ""
	*e.at(i) = caller{}
	e.free = append(e.free, i)
	e.stats.Callers--
}

// sessions are the caller's last eight streams of calls, each of one
// credential from one host: the sequence detector follows each stream's
// routes, the source detector sees one credential in two streams.
type sessions [8]session

// session is one credential's stream of calls from one host.
type session struct {
	cred, host uint32 // fingerprints; zero when unknown
	at         uint32 // last call
	prev       uint8  // last route (seqStart for none)
	_          [3]byte
}

// find returns the session of the call's credential and host, a new one
// (replacing the least recent) when there is none, with its last call
// before this one (zero for a new session), and the last call of the
// same credential from another host within the table.
func (ss *sessions) find(cred, host, sec uint32) (s *session, at, other uint32) {
	lru := -1
	for i := range ss {
		x := &ss[i]
		switch {
		case x.cred == cred && x.host == host && x.at != 0:
			s = x
		case cred != 0 && x.cred == cred && x.at > other:
			other = x.at
		}
		if lru < 0 || x.at < ss[lru].at {
			lru = i
		}
	}
	if s == nil {
		s = &ss[lru]
		*s = session{cred: cred, host: host, prev: seqStart}
	}
	at, s.at = s.at, sec
	return s, at, other
}
