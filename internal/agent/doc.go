// Package agent is the Kith node agent: it attests the node to the server
// with a one-time join token, keeps the node's share of the control plane
// (entries, trust bundles, revocations) up to date over one long-lived sync
// stream, and serves the SPIFFE Workload API on a Unix socket to the
// processes of its node.
//
// # What it owns
//
//   - The agent's identity: a P-256 key and an X509-SVID
//     spiffe://<td>/kith/agent/<id>, obtained with the join token on first
//     start (POST /agent/v1/attest), persisted in the data folder, renewed
//     at half its lifetime, and from then on the only way the agent
//     authenticates (mutual TLS; the server must present
//     spiffe://<td>/kith/server).
//   - The cache of what the server pushed on GET /agent/v1/sync (see package
//     agentproto for the wire protocol): the entries this node serves, the trust
//     domain's bundle, federated bundles kept apart per trust domain, and
//     the revocation set, whose signed batches are verified against the
//     bundle's JWT authorities. The cache and its revision cursors are
//     written to the data folder on every change, so an agent restarted
//     while the server is down still serves bundles and validates tokens
//     (static stability), and a reconnecting agent resumes where it left
//     off.
//   - Workload attestation: the caller of the Workload API is identified by
//     the socket's peer credentials (SO_PEERCRED) and described by
//     selectors unix:uid:N, unix:gid:N, unix:user:NAME, unix:group:NAME,
//     unix:path:/abs/exe and unix:sha256:HEX. An entry matches a process
//     when all its selectors are among the process's.
//   - The workload SVID cache: X509-SVIDs are minted lazily, only for
//     entries some connected (or recently connected) workload matches,
//     for keys the agent generates and never sends; each is renewed at half
//     its lifetime with ±10% jitter, and replaced at once when the
//     revocation set covers it. JWT-SVIDs are cached per entry and
//     audience until half their lifetime.
//   - Health (/healthz, /readyz) and Prometheus metrics on an optional
//     address.
//
// # What it must not do
//
// The agent decides nothing about who may have which identity beyond
// matching selectors against the entries the server sent it; the server
// authorizes every SVID it signs. It never logs or sends private keys, never
// writes workload keys to disk, and never accepts an identity for another
// trust domain.
//
// It links no part of the server and no database: it speaks to the server
// through package agentproto only (deps_test.go pins this).
//
// # The socket
//
// As SPIRE does, the socket is created with mode 0777 in a directory of
// mode 0755 (created if missing): any local process may connect, and the
// peer credentials, not file permissions, decide what it gets. Restrict the
// directory's permissions to narrow who can reach the API.
package agent
