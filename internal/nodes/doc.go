// Package nodes is the server side of Kith's node agents: it makes one-time
// join tokens, attests an agent that presents one (and gives it the X509-SVID
// spiffe://<td>/kith/agent/<id>), authenticates agents by that SVID, issues
// the workload SVIDs an agent may serve, and evicts agents. It also withdraws
// the credentials of a workload entry (revoke, quarantine, release), since
// those are the credentials agents hand out.
//
// # Join tokens
//
// A join token is "kith_jt_<id>_<secret>": a public 12-hex-digit ID, which
// the ledger names, and 256 random bits. Only the SHA-256 of the secret is
// stored, with an expiry. Consuming a token and registering the agent is one
// store operation, so of two attestations with one token exactly one wins. A
// reused, expired or unknown token is refused and the refusal recorded.
//
// # What an agent may be issued
//
// An agent may obtain SVIDs only for active entries whose ParentID is its
// own SPIFFEID, or that were explicitly opened to every agent
// (registry.Entry.AnyAgent). An entry without a parent is served by no
// agent: one compromised node must not yield every such identity. Each X509-SVID issued through an agent
// is recorded (agent, entry, serial, expiry): one row per issuance, about two
// per workload at any time since SVIDs are renewed at half their lifetime,
// deleted once expired by [Service.Run]. Evicting the agent revokes its own
// SPIFFE ID and every recorded serial that has not expired, so its workloads
// lose their identities before their certificates expire. JWT-SVIDs carry no
// serial: those issued through an evicted agent stay valid until they expire
// (the JWT-SVID TTL, 5 minutes by default).
//
// # What it must not do
//
// It must not serve HTTP or know the wire format (package server does), hold
// SQL (package store does), decide entry contents (package registry does) or
// sign anything itself (package ca does). Every refusal and every credential
// it issues is recorded through the Auditor.
package nodes
