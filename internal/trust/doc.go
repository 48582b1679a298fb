// Package trust is Kith's behavioural-trust engine: it learns how each
// caller identity behaves from the calls proxies and the middleware
// decided, raises a [Signal] when a caller departs from its own history,
// and keeps a live trust state per identity (a [policy.Trust]: score,
// level and the names of what weighs on it) that policy reads on every
// call.
//
// The [Engine] is fed [Call]s ([FromRecord] converts a committed
// callrecord.Record) and reports, through a [Sink], each signal once per
// incident and each [Change] of a caller's trust. Its detectors, one file
// each, watch:
//
//   - rate (rate.go): bursts against the caller's own bursts at this hour
//     of day (rate.spike), and sustained rises by CUSUM (rate.sustained);
//   - volume (rate.go, volume.go): bytes per ten seconds
//     (volume.exfiltration), per five minutes by CUSUM
//     (volume.low_and_slow), and per call against the route's sizes;
//   - endpoints (endpoint.go): route templates the caller never used,
//     weighted by whether policy allows them (endpoint.new);
//   - sequences (sequence.go): surprising transitions between routes
//     under the caller's first-order model (sequence.surprise);
//   - source (source.go): a new network after a stable history
//     (source.new_network), one credential in two places at once
//     (source.concurrent);
//   - errors (errors.go): bursts of 401/403/404/405 and denials
//     (errors.burst);
//   - fan-out (fanout.go): services the caller never called
//     (fanout.new_targets).
//
// Every detector is online, learns for a warm-up (a caller's first day)
// before it may fire, and adapts its bar to the caller: a caller that
// keeps adding networks or routes by design, or that is noisy, raises its
// own. State is a fixed-size value per caller (about 1.8 KB, no pointers:
// routes, targets and networks are kept as seeded hashes, Bloom filters
// and small tables), and observing a call allocates nothing unless it
// raises a signal.
//
// Trust starts from the strength of the caller's credential ([Strength],
// [Starting]: never zero), drops by a penalty per signal (by severity)
// and per [ContextInput] (vulnerabilities, leaks, CAEP events, fed by
// others), recovers with a half-life once the caller has been quiet, and
// is restored at once by [Engine.Clear]. [Engine.Table] and [NewIndex]
// are the compact form pushed to proxies, where an [Index] serves as the
// data plane's enforce.TrustSource. [Engine.WriteSnapshot] and
// [Engine.ReadSnapshot] carry the learned state across restarts and
// replicas. [Replay] runs the same engine over recorded calls (JSON
// Lines, see replay.go) and writes the signals it raises.
//
// The package does no I/O but the reader and writer it is given, starts
// no goroutine, and imports neither the store nor the server nor the
// ledger: the server feeds it, persists its snapshots and writes its
// signals and level changes to the ledger ([Signal.Event],
// [Change.Event]).
package trust
