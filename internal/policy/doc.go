// Package policy owns Kith's authorization policies: the documents that
// say who may do what to a protected service, and the engine that decides
// each call against them.
//
// A policy [Document] protects one target (a SPIFFE ID or a pattern) with
// rules. Each [Rule] matches callers (from), requests (to) and an optional
// CEL condition (when) over the request, the caller, its token and its
// live trust state, and names an [Action]: allow, audit, rate_limit,
// restrict, step_up, deny or quarantine. Documents are written in YAML
// ([Parse]) and stored and pushed as JSON.
//
// [Compile] checks a set of documents once — patterns, paths, CEL
// programs with cost limits — and indexes the rules by target and caller,
// so that [Set.Decide] costs the same however many policies protect other
// services, and allocates nothing for rules without a condition. An
// [Engine] holds the current compiled set behind an atomic pointer, so
// that a proxy decides lock-free while new revisions are swapped in.
//
// Combining does not depend on rule order: a target with any policy is
// deny-by-default; quarantine and deny override everything, then
// step_up, then restrict and rate_limit, then audit and allow. An error
// while evaluating a rule fails closed: the call is denied and the
// [Decision] says why. Dry-run policies are evaluated and reported in
// [Decision.DryRun] without being enforced.
//
// The control-plane side (validating and versioning policy sets in the
// store, recording every change in the ledger) is package policyset; this
// package imports neither the store nor the ledger. [Set.Explain], [Lint] and [RunTests] back the CLI's
// explain, lint and test commands; they work offline.
//
// The package knows rules, not HTTP: it neither reads requests nor writes
// responses, and it enforces no obligation itself (a rate limit, a scope
// restriction or a step-up challenge is for the proxy to apply).
package policy
