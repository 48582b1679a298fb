package server

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/callrecord"
	"github.com/kith-dev/kith/internal/nodes"
)

// agentTelemetry is POST /agent/v1/telemetry: a batch of call records
// (package callrecord) from the proxies of the calling agent's node, each
// recorded as an audit.TypeCallDecided ledger event. A batch that is not
// such an array is refused whole (400). An invalid record is left out and
// counted, the rest recorded (callrecord.Accept): a batch merges the
// records of several proxies, and one proxy's bad record must not erase
// the others' (the agent refuses invalid records at its socket already, so
// this takes an agent of another version or a broken one); the refusal
// itself is recorded as an audit.TypeTelemetryRefused event. A batch is
// recorded in one ledger commit: one the ledger fails is answered 500 with
// nothing recorded, and may be sent again. A batch sent again after its
// answer was lost is recognised by its sequence numbers
// (callrecord.BatchHeader): the records this server recorded already are
// left out and counted as duplicates. The records committed, and only
// those, then go to Config.CallObserver; the trust engine reads them from
// the ledger, woken at once. Each record's Node is set to the agent.
func (s *Server) agentTelemetry(w http.ResponseWriter, r *http.Request, c *nodes.Caller) error {
	body, err := readAgentBody(r)
	if err != nil {
		return err
	}
	raw, err := callrecord.DecodeRecords(body)
	if err != nil {
		return badRequest("", "%v", err)
	}
	id, numbered := callrecord.ParseBatchID(r.Header.Get(callrecord.BatchHeader), len(raw))
	dup := 0
	if numbered {
		dup = s.telemetry.recorded(c.Agent.ID, id)
	}
	batch, refused := callrecord.Accept(raw[dup:], dup, s.clock())
	reporter := c.Agent.SPIFFEID.String()
	reqID := requestID(r.Context())
	evs := make([]audit.Event, 0, len(batch)+1)
	for i := range batch {
		batch[i] = batch[i].FromAgent(reporter)
		evs = append(evs, batch[i].Event(reporter, reqID))
	}
	if len(refused) > 0 {
		s.logger.WarnContext(r.Context(), "telemetry: invalid records left out", "agent", reporter,
			"refused", len(refused), "first", refused[0])
		evs = append(evs, callrecord.RefusedEvent(reporter, reqID, refused, len(batch)))
	}
	// One commit for the whole batch: if it fails, nothing was recorded
	// and the agent's retry records each call once.
	if len(evs) > 0 {
		if _, err := s.ledger.RecordAll(r.Context(), evs); err != nil {
			return fmt.Errorf("record telemetry: %w", err)
		}
	}
	if numbered {
		s.telemetry.mark(c.Agent.ID, id)
	}
	if s.trust != nil && len(batch) > 0 {
		s.trust.host.Wake() // the engine reads the records from the ledger
	}
	if s.cfg.CallObserver != nil && len(batch) > 0 {
		s.cfg.CallObserver.ObserveCalls(c.Agent.SPIFFEID, batch)
	}
	s.metrics.telemetry.WithLabelValues("recorded").Add(float64(len(batch)))
	s.metrics.telemetry.WithLabelValues("refused").Add(float64(len(refused)))
	s.metrics.telemetry.WithLabelValues("duplicate").Add(float64(dup))
	return writeJSON(w, http.StatusOK, agentproto.TelemetryResponse{Recorded: len(batch), Refused: len(refused), Duplicates: dup})
}

// CallObserver is told of the call records the server committed to the
// audit ledger: the seam for consumers of what proxies and the SDK
// middleware decided, such as the behavioural-trust engine. ObserveCalls
// is called once per telemetry upload of the agent whose SPIFFE ID is
// agent, after the upload's ledger commit, with exactly the records that
// commit recorded as call.decided events, in order: never with records
// left out as invalid or as duplicates of an earlier send, never for an
// upload that recorded none or whose commit failed. Another replica
// serving the agent's retry after a lost answer may record, and so pass
// on, a record twice.
//
// ObserveCalls runs on the agent's request and must not block: queue the
// records and return (dropping, and counting, what does not fit). records
// is the observer's to keep: the server does not touch it afterwards.
type CallObserver interface {
	ObserveCalls(agent spiffeid.ID, records []callrecord.Record)
}

// telemetryMarks remembers, per agent, the end of the last batch this
// server recorded, so that a batch sent again is not recorded twice. It
// is this replica's memory: a batch sent again to another replica is
// recorded again.
type telemetryMarks struct {
	mu sync.Mutex
	m  map[string]callrecord.BatchID // by agent ID
}

// recorded returns how many of the first records of batch id the server
// has recorded already.
func (t *telemetryMarks) recorded(agent string, id callrecord.BatchID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, ok := t.m[agent]
	if !ok || last.Run != id.Run || last.End <= id.First {
		return 0
	}
	return int(min(last.End, id.End) - id.First)
}

// mark notes that batch id of agent is recorded.
func (t *telemetryMarks) mark(agent string, id callrecord.BatchID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]callrecord.BatchID{}
	}
	if last, ok := t.m[agent]; !ok || last.Run != id.Run || last.End < id.End {
		t.m[agent] = id
	}
}

// parseTelemetry decodes the untrusted body of a telemetry batch and
// checks its records (see callrecord.Accept); a body that is not a batch
// is a 400 problem.
func parseTelemetry(body []byte, now time.Time) (valid []callrecord.Record, refused []string, err error) {
	batch, err := callrecord.DecodeRecords(body)
	if err != nil {
		return nil, nil, badRequest("", "%v", err)
	}
	valid, refused = callrecord.Accept(batch, 0, now)
	return valid, refused, nil
}
