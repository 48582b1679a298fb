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
//     when all its selectors are among the process's. Every call, and
//     every update of a stream, attests the caller again (see below).
//   - The workload SVID cache: X509-SVIDs are minted lazily, only for
//     entries some connected (or recently connected) workload matches,
//     for keys the agent generates and never sends; each is renewed at half
//     its lifetime with ±10% jitter, and replaced at once when the
//     revocation set covers it. JWT-SVIDs are cached per entry and
//     audience until half their lifetime.
//   - The X509-SVIDs and their keys are also kept in the data folder,
//     sealed (AES-256-GCM, with a random key of its own in the folder,
//     mode 0600), rewritten on every change, so that an agent restarted
//     while the server is away serves them (and the persisted bundles)
//     until they expire: static stability beyond SPIRE's, whose agent
//     must reach its server to serve again after a restart. At start the
//     agent refuses, logs and deletes a sealed file or key that group or
//     others may access or that does not authenticate (tampered), and
//     takes up only SVIDs that chain to the bundle it holds, have not
//     expired, are not revoked, and whose entry its persisted state holds
//     as active. Offline, SVIDs no workload fetches are kept rather than
//     dropped after the idle timeout, since none could be minted again.
//     The seal keeps the SVIDs from whoever reads a copy of the file alone
//     (a backup, a misplaced file); whoever can read the whole folder (the
//     agent's user, root) can open them, as they can use the agent's own
//     key.
//   - Health (/healthz, /readyz) and Prometheus metrics on an optional
//     address.
//
// # What attestation proves, and what it does not
//
// The uid and gid selectors come from the kernel's record of the process
// that connected; no process can change them. The path and sha256
// selectors describe the program a pid runs when it asks, read from /proc,
// and a process can connect and then execute another program (same pid,
// same start time), keeping the connection or handing it to a child. So
// the agent gives a caller its path and sha256 selectors only if, at each
// call and each update of a stream:
//
//   - the pid is still the process that connected (its start time is the
//     one read when the connection was accepted), else it refuses
//     (PermissionDenied);
//   - it runs the executable (device and inode) it ran when the
//     connection was accepted, else it refuses;
//   - it holds the connection's socket in its descriptor table (the agent
//     asks the kernel for the peer socket's inode with sock_diag, as
//     `ss -x` does, and looks for it in /proc/PID/fd), else it refuses;
//   - through a close-on-exec descriptor (/proc/PID/fdinfo), which cannot
//     have survived an exec. A caller that holds the socket only without
//     close-on-exec, or whose descriptors cannot be read (hidepid, a
//     kernel without unix_diag), gets no path or sha256 selector, and a
//     warning is logged when that leaves it without an identity. Client
//     libraries open sockets close-on-exec (go-spiffe, gRPC, Rust, Python,
//     libuv); a C program that calls socket() without SOCK_CLOEXEC cannot
//     be selected by path or digest.
//
// Executable digests are cached by device, inode, size, modification and
// change time (which no file owner can set), and only for files that had
// not changed for a while when they were hashed; a file changed since is
// hashed again.
//
// What remains is the class SPIRE documents for its unix attestor: path
// and digest selectors do not separate programs that run as the same
// user. A process of that uid can run the allowed program under its own
// control and obtain the identity through it: ptrace (which Yama's default
// ptrace_scope 1 allows a parent over its child), LD_PRELOAD and other
// environment, seccomp user notification, writes to /proc/PID/mem. An
// allowed program that marks inherited descriptors close-on-exec at start
// also defeats the last check if the attacker's exec lands between its
// connect and the agent's accept. Give workloads that must not share an
// identity different uids (or containers), and use path and sha256 as a
// further condition within a uid, not as the boundary; root on the node
// can obtain every identity the node may hold.
//
// # What it must not do
//
// The agent decides nothing about who may have which identity beyond
// matching selectors against the entries the server sent it; the server
// authorizes every SVID it signs. It never logs or sends private keys,
// writes workload keys to disk only sealed, and never accepts an identity
// for another trust domain.
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
