package ledger

import (
	"sync/atomic"
	"time"
)

// Stats counts a Ledger's work since it was created, for monitoring.
type Stats struct {
	// TreeSize is the largest tree size the Ledger knows to be committed.
	TreeSize uint64
	// Commits and CommitFailures count the commits that append to the
	// tree (group commits of Record and RecordAll, and adoptions of
	// events stored by RecordTx); Events the entries they appended;
	// CommitTime the time spent in them, failures included.
	Commits, CommitFailures, Events uint64
	CommitTime                      time.Duration
	// CheckpointSize and CheckpointTime describe the latest checkpoint
	// Run published or found published (zero before the first);
	// PublishFailures counts the ticks that could not publish one.
	CheckpointSize  uint64
	CheckpointTime  time.Time
	PublishFailures uint64
}

// stats are the counters behind Stats.
type stats struct {
	commits, commitFailures, events, commitNanos atomic.Uint64
	publishFailures, checkpointSize              atomic.Uint64
	checkpointTime                               atomic.Int64 // Unix nanoseconds; 0 before the first
}

// Stats returns the Ledger's counters.
func (l *Ledger) Stats() Stats {
	s := &l.stats
	st := Stats{
		TreeSize: l.size.Load(), Commits: s.commits.Load(), CommitFailures: s.commitFailures.Load(),
		Events: s.events.Load(), CommitTime: time.Duration(s.commitNanos.Load()),
		CheckpointSize: s.checkpointSize.Load(), PublishFailures: s.publishFailures.Load(),
	}
	if t := s.checkpointTime.Load(); t != 0 {
		st.CheckpointTime = time.Unix(0, t).UTC()
	}
	return st
}

// noteCommit counts a commit of n entries that took d.
func (s *stats) noteCommit(n int, d time.Duration, err error) {
	s.commitNanos.Add(uint64(d))
	if err != nil {
		s.commitFailures.Add(1)
		return
	}
	s.commits.Add(1)
	s.events.Add(uint64(n))
}

// notePublished records the latest published checkpoint.
func (s *stats) notePublished(cp *Checkpoint) {
	if cp == nil {
		return
	}
	s.checkpointSize.Store(cp.Size)
	s.checkpointTime.Store(cp.Time.UnixNano())
}
