// Package remediation is Kith's remediation ladder: what the server does,
// without a person, when a caller's behavioural trust falls — observe,
// step up, restrict, rate-limit, quarantine, revoke credentials, require
// rotation — held back by guard rails, recorded in the ledger and told to
// people through a signed webhook.
//
// A ladder file ([Parse]) holds [Ladder]s, each for the identities its
// patterns select, with [Step]s keyed by trust level (and an optional
// delay at that level) and the guard rails: a minimum of evidence (how
// many signals and context inputs weigh on the score, and how grave the
// gravest is), a dry-run mode that only records what it would have done,
// a cooldown per identity, a cap on the share of one identity's instances
// that may be quarantined, and an allow-list of identities never acted
// on. Parse places every problem at file:line:col, with a did-you-mean
// for misspelt names.
//
// A [Remediator] is fed the trust engine's [trust.Change]s and
// [trust.Signal]s (it is a trust.Sink: its methods queue and return) and
// acts from its own goroutine ([Remediator.Run]). The rungs step_up,
// restrict and rate_limit (and observe) are enforced by the data plane:
// trust levels reach every proxy, so they are policy rules on
// trust.level, and the ladder only records that a caller reached them.
// The server-side rungs — quarantine, revoke_credentials and
// require_rotation — go through the small interfaces the server
// implements ([Actions], [Fleet]). Every step taken, would-have-been
// taken (dry run) or held back by a guard rail is a ledger event
// (audit.TypeRemediationActed, TypeRemediationDryRun,
// TypeRemediationSkipped) and a [Notification].
//
// With several server replicas, every replica feeds its Remediator the
// same changes, and only the active one (Config.Active: the trust host's
// leader) acts and records; the others follow, so that one can take over
// without repeating a step.
//
// A [Webhook] delivers notifications to people: POSTed JSON, signed with
// HMAC-SHA256 ([Sign], [Verify]), with timeouts, retries with backoff and
// a bounded queue, so that it never holds up the ladder.
//
// The package does no I/O but through the interfaces it is given and the
// webhook's HTTP client; it imports neither the store nor the server.
package remediation
