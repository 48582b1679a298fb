// Package proxy is Kith's data-plane proxy, the process beside a service
// (sidecar) or in front of several (gateway):
//
//   - [Inbound] terminates mutual TLS with the service's X509-SVID
//     (rotated without dropping connections), runs every call through the
//     shared request path of package enforce, answers refusals, and
//     forwards allowed calls over HTTP/1.1 or HTTP/2 (h2c, so gRPC works)
//     to the local upstream with the verified caller in Kith-* headers,
//     after stripping any Kith-* headers that came from outside. It
//     closes the connections of callers revoked after they connected.
//   - [Outbound] takes plain HTTP from the local application and opens
//     mutual TLS to the destination with the application's SVID, attaching
//     an access token and retrying once with a stronger token when the
//     destination answers with an RFC 9470 step-up challenge. No call
//     goes over a connection made with an earlier SVID of the
//     application, or to a destination revoked since ([NewTransport]).
//   - [TCP] guards non-HTTP protocols with mutual TLS and identity policy
//     only, and cuts the tunnels of peers revoked after they connected.
//   - [Telemetry] records every call: Prometheus metrics on its own
//     registry, a structured access log, a [Recorder] for the behaviour
//     engine and batches for an [Uploader].
//   - [Feed] is what a proxy or the kithhttp middleware holds from its
//     node agent: the data-plane view it follows and the telemetry that
//     sends call records back; every enforcer on a node is built from it
//     by [Feed.Enforcer], the same way in `kith proxy`, the middleware and
//     `kith dev`.
//
// The package verifies and decides nothing itself (package enforce does)
// and does no network or disk I/O per call beyond the forwarded call. Its
// call records are package callrecord's [callrecord.Record]. It links no
// part of the server and no database (deps_test.go pins this).
package proxy
