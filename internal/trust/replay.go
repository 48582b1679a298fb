package trust

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Replay runs the engine over recorded calls, at their recorded times,
// and writes the signals it raises: the same detectors as the server's,
// for tuning them on one's own traffic before enforcing and for
// investigating an incident after the fact.
//
// Input (r): JSON Lines, one call a line, in time order (small disorder is
// tolerated: a call earlier than its caller's last is taken as made then):
//
//	{"ts":"2026-12-08T10:00:00.123Z", "caller":"spiffe://example.org/billing",
//	 "credential":"<jti, serial or client ID>", "credential_type":"x509_svid",
//	 "target":"spiffe://example.org/payments", "method":"GET",
//	 "route":"/v1/invoices/{id}", "path":"/v1/invoices/42", "status":200,
//	 "req_bytes":123, "resp_bytes":4567, "source":"10.1.2.3",
//	 "node":"spiffe://example.org/kith/agent/n1", "latency_ms":12.5,
//	 "decision":"allow"}
//
// Only ts is required; a line without caller uses client_id, then
// credential, as the identity. Unknown keys are ignored. Lines of `kith
// audit export` ({"index":N,"event":{…}}) and bare ledger events are read
// too: call.decided events map actor.id to caller, actor.credential_id
// and credential_type, actor.remote_addr to source, the action "GET
// /route" to method and route, and details status, bytes_in, bytes_out,
// latency_us, decision, path and reported_by (the node); events of other
// types are skipped. So `kith audit export --type call.decided` pipes
// straight into `kith trust replay`.
//
// Output (w): JSON Lines, one [Signal] a line:
//
//	{"ts":"…","identity":"spiffe://…","credential":"…","kind":"rate.spike",
//	 "severity":"medium","evidence":{"expected":"…","seen":"…",…}}
//
// Replay streams: its memory grows with the callers, never with the
// records. A malformed line stops it with a *LineError, unless
// SkipInvalid, which counts and skips it.
func Replay(r io.Reader, w io.Writer, cfg ReplayConfig) (ReplayStats, error) {
	var st ReplayStats
	bw := bufio.NewWriterSize(w, 64<<10)
	sink := &replaySink{w: bw}
	ec := cfg.Engine
	ec.Sink = sink
	if ec.HashSeed == 0 {
		ec.HashSeed = replaySeed
	}
	var last time.Time
	ec.Clock = func() time.Time { return last }
	e, err := New(ec)
	if err != nil {
		return st, err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var p lineParser
	var long []byte
	for {
		line, rerr := br.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(rerr, bufio.ErrBufferFull) && len(long) <= maxLine {
				line, rerr = br.ReadSlice('\n')
				long = append(long, line...)
			}
			if len(long) > maxLine {
				return st, &LineError{Line: st.Lines + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
			}
			line = long
		}
		if len(line) > 0 {
			st.Lines++
			if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
				switch err := p.parse(trimmed); {
				case err == nil:
					if p.call.Time.After(last) {
						last = p.call.Time
					}
					e.observe(&p.call)
					st.Calls++
				case errors.Is(err, errSkip):
					st.Skipped++
				case cfg.SkipInvalid:
					st.Invalid++
				default:
					return st, &LineError{Line: st.Lines, Err: err}
				}
				if sink.err != nil {
					return st, fmt.Errorf("write signals: %w", sink.err)
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return st, fmt.Errorf("read calls: %w", rerr)
		}
	}
	st.Signals, st.Callers = e.stats.Signals, e.stats.Callers
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write signals: %w", err)
	}
	return st, nil
}

// replaySeed is the hash seed of replays, so that the same input always
// gives the same signals.
const replaySeed = 0x6b697468_74727374

// maxLine bounds a line of replay input.
const maxLine = 1 << 20

// ReplayConfig configures [Replay].
type ReplayConfig struct {
	// Engine configures the engine; its Sink and Clock are Replay's own,
	// and a zero HashSeed is a fixed one, so that replays repeat.
	Engine Config
	// SkipInvalid skips (and counts) malformed lines instead of stopping.
	SkipInvalid bool
}

// ReplayStats counts what a replay read and wrote.
type ReplayStats struct {
	// Lines read, calls observed, lines skipped as events of other types,
	// and invalid lines skipped (with SkipInvalid).
	Lines, Calls, Skipped, Invalid int64
	// Signals written and distinct callers seen.
	Signals, Callers int64
}

// LineError is a malformed line of replay input.
type LineError struct {
	// Line is the line's number, from 1.
	Line int64
	// Err says what is wrong.
	Err error
}

// Error returns "line N: what is wrong".
func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns Err.
func (e *LineError) Unwrap() error { return e.Err }

// replaySink writes signals as JSON Lines and ignores changes.
type replaySink struct {
	w   *bufio.Writer
	err error
}

func (s *replaySink) Signal(sig Signal) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(&sig)
	if err == nil {
		b = append(b, '\n')
		_, err = s.w.Write(b)
	}
	s.err = err
}

func (s *replaySink) Change(Change) {}
