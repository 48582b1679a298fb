// Package simulate is the test bed of Kith's behavioural trust engine: it
// generates realistic service-to-service traffic for one trust domain, with
// attacks injected and labelled, and it scores the signals of any detector
// against those labels.
//
// [Run] writes calls in the replay format (JSON Lines, one [Call] per line,
// in time order) and one [Label] per injected attack. The traffic is
// compressed in time (days of simulated calls are written as fast as the
// writer takes them, with simulated timestamps) and deterministic: the same
// [Config] writes the same bytes. What it models:
//
//   - tens of services in tiers (entry, mid, leaf, batch, a monitor), each
//     with its own route templates, size, latency and status distributions,
//     and handlers that call other services in a fixed order, so that a
//     caller's route sequences have structure;
//   - daily and weekly rhythms per entry service, cron batch jobs (a nightly
//     export, an hourly run, an indexer every 15 minutes, a weekly rollup),
//     periodic pollers and health checks;
//   - instances on nodes with stable /24 networks (one node in five on
//     IPv6, a /64 each), pods that move, rolling deploys, node replacement,
//     cron runs from fresh pods, X509-SVIDs rotated every hour and bearer
//     or DPoP tokens every few minutes;
//   - a deploy that adds a route its callers start to use (and policy
//     allows), a service whose first day starts in the middle of the run,
//     outages with retry storms, stray 401s, a caller policy denies now and
//     then, old clients calling removed paths;
//   - eight attacks after a warm-up, each on its own identity with
//     parameters drawn from the seed (see [Scenarios]).
//
// In the calls, source is the address of the caller's instance and node
// the SPIFFE ID of the agent on its node (the node a credential is used
// from); node is empty for a caller outside the mesh. The credential is
// the X509-SVID's serial or the token's jti.
//
// [Evaluate] reads calls once, streaming, and scores sets of [Signal]s in
// the replay output format against the labels: per attack detected or
// not, time and requests to detection; benign caller-hours with a false
// alarm. [Baseline] is the reference it is compared with: a naive per-caller
// fixed rate limit.
//
// The package is standard library only and knows nothing of the detectors
// in package trust: the two meet only at the file formats. It must not be
// tuned to them, nor they to it.
package simulate
