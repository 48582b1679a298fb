package store

// migrations is the schema history, oldest first. Versions are contiguous
// from 1 and a migration, once released, is never edited: change the
// schema by appending one. Each holds the same change in both dialects;
// these are the only per-dialect SQL in the package.
//
// Column encodings are described in codec.go. Text keys that list methods
// order by are declared COLLATE "C" on PostgreSQL, so both back ends order
// them bytewise.
var migrations = []migration{
	{
		version: 1,
		name:    "initial schema",
		sqlite: `
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('revision', 0), ('events', 0);

CREATE TABLE entries (
	id                TEXT PRIMARY KEY,
	spiffe_id         TEXT NOT NULL,
	parent_id         TEXT NOT NULL,
	selectors         TEXT NOT NULL,
	selectors_key     TEXT NOT NULL,
	owner             TEXT NOT NULL,
	business_function TEXT NOT NULL,
	description       TEXT NOT NULL,
	max_scopes        TEXT NOT NULL,
	x509_svid_ttl     INTEGER NOT NULL,
	jwt_svid_ttl      INTEGER NOT NULL,
	labels            TEXT NOT NULL,
	status            TEXT NOT NULL,
	created_at        INTEGER,
	updated_at        INTEGER,
	revision          INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX entries_identity ON entries (spiffe_id, parent_id, selectors_key);
CREATE INDEX entries_parent_id ON entries (parent_id);
CREATE INDEX entries_revision ON entries (revision);

CREATE TABLE blobs (
	name    TEXT PRIMARY KEY,
	data    BLOB NOT NULL,
	version INTEGER NOT NULL
) STRICT;

CREATE TABLE federations (
	trust_domain        TEXT PRIMARY KEY,
	bundle_endpoint_url TEXT NOT NULL,
	profile             TEXT NOT NULL,
	endpoint_spiffe_id  TEXT NOT NULL,
	bundle              BLOB NOT NULL,
	sequence            INTEGER NOT NULL,
	last_refresh        INTEGER,
	next_refresh        INTEGER,
	last_error          TEXT NOT NULL,
	created_at          INTEGER,
	updated_at          INTEGER
) STRICT;

CREATE TABLE admin_credentials (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	name       TEXT NOT NULL,
	created_at INTEGER
) STRICT;

CREATE TABLE events (
	idx     INTEGER PRIMARY KEY,
	time    INTEGER,
	type    TEXT NOT NULL,
	outcome TEXT NOT NULL,
	actor   TEXT NOT NULL,
	target  TEXT NOT NULL,
	body    BLOB NOT NULL
) STRICT;
CREATE INDEX events_type ON events (type, idx);
CREATE INDEX events_actor ON events (actor, idx);
CREATE INDEX events_target ON events (target, idx);
CREATE INDEX events_time ON events (time);
`,
		postgres: `
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('revision', 0), ('events', 0);

CREATE TABLE entries (
	id                TEXT COLLATE "C" PRIMARY KEY,
	spiffe_id         TEXT NOT NULL,
	parent_id         TEXT NOT NULL,
	selectors         TEXT NOT NULL,
	selectors_key     TEXT NOT NULL,
	owner             TEXT NOT NULL,
	business_function TEXT NOT NULL,
	description       TEXT NOT NULL,
	max_scopes        TEXT NOT NULL,
	x509_svid_ttl     BIGINT NOT NULL,
	jwt_svid_ttl      BIGINT NOT NULL,
	labels            TEXT NOT NULL,
	status            TEXT NOT NULL,
	created_at        BIGINT,
	updated_at        BIGINT,
	revision          BIGINT NOT NULL
);
CREATE UNIQUE INDEX entries_identity ON entries (spiffe_id, parent_id, selectors_key);
CREATE INDEX entries_parent_id ON entries (parent_id);
CREATE INDEX entries_revision ON entries (revision);

CREATE TABLE blobs (
	name    TEXT PRIMARY KEY,
	data    BYTEA NOT NULL,
	version BIGINT NOT NULL
);

CREATE TABLE federations (
	trust_domain        TEXT COLLATE "C" PRIMARY KEY,
	bundle_endpoint_url TEXT NOT NULL,
	profile             TEXT NOT NULL,
	endpoint_spiffe_id  TEXT NOT NULL,
	bundle              BYTEA NOT NULL,
	sequence            BIGINT NOT NULL,
	last_refresh        BIGINT,
	next_refresh        BIGINT,
	last_error          TEXT NOT NULL,
	created_at          BIGINT,
	updated_at          BIGINT
);

CREATE TABLE admin_credentials (
	id         TEXT PRIMARY KEY,
	hash       BYTEA NOT NULL,
	name       TEXT NOT NULL,
	created_at BIGINT
);

CREATE TABLE events (
	idx     BIGINT PRIMARY KEY,
	time    BIGINT,
	type    TEXT NOT NULL,
	outcome TEXT NOT NULL,
	actor   TEXT NOT NULL,
	target  TEXT NOT NULL,
	body    BYTEA NOT NULL
);
CREATE INDEX events_type ON events (type, idx);
CREATE INDEX events_actor ON events (actor, idx);
CREATE INDEX events_target ON events (target, idx);
CREATE INDEX events_time ON events (time);
`,
	},
	{
		version: 2,
		name:    "ledger merkle tree",
		sqlite: `
ALTER TABLE events ADD COLUMN leaf_hash BLOB;

CREATE TABLE ledger_state (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	size          INTEGER NOT NULL,
	root          BLOB NOT NULL,
	compact_range BLOB NOT NULL
) STRICT;
INSERT INTO ledger_state (id, size, root, compact_range) VALUES (1, 0, x'', x'');

CREATE TABLE ledger_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_checkpoints (
	size INTEGER PRIMARY KEY,
	note BLOB NOT NULL,
	time INTEGER
) STRICT;
`,
		postgres: `
ALTER TABLE events ADD COLUMN leaf_hash BYTEA;

CREATE TABLE ledger_state (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	size          BIGINT NOT NULL,
	root          BYTEA NOT NULL,
	compact_range BYTEA NOT NULL
);
INSERT INTO ledger_state (id, size, root, compact_range) VALUES (1, 0, ''::bytea, ''::bytea);

CREATE TABLE ledger_nodes (
	level INTEGER NOT NULL,
	idx   BIGINT NOT NULL,
	hash  BYTEA NOT NULL,
	PRIMARY KEY (level, idx)
);

CREATE TABLE ledger_checkpoints (
	size BIGINT PRIMARY KEY,
	note BYTEA NOT NULL,
	time BIGINT
);
`,
	},
	{
		version: 3,
		name:    "oauth clients and revocations",
		sqlite: `
CREATE TABLE oauth_clients (
	id          TEXT PRIMARY KEY,
	entry_id    TEXT NOT NULL,
	auth_method TEXT NOT NULL,
	scopes      TEXT NOT NULL,
	audiences   TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  INTEGER,
	updated_at  INTEGER,
	version     INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_clients_entry_id ON oauth_clients (entry_id, id);

CREATE TABLE oauth_client_secrets (
	client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
	id         TEXT NOT NULL,
	hash       BLOB NOT NULL,
	created_at INTEGER,
	expires_at INTEGER,
	PRIMARY KEY (client_id, id)
) STRICT;

CREATE TABLE oauth_client_keys (
	client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
	kid        TEXT NOT NULL,
	jwk        BLOB NOT NULL,
	created_at INTEGER,
	PRIMARY KEY (client_id, kid)
) STRICT;

INSERT INTO counters (name, value) VALUES ('revocations', 0);
CREATE TABLE revocations (
	kind       TEXT NOT NULL,
	value      TEXT NOT NULL,
	revoked_at INTEGER,
	expires_at INTEGER,
	reason     TEXT NOT NULL,
	revision   INTEGER NOT NULL,
	PRIMARY KEY (kind, value)
) STRICT;
CREATE INDEX revocations_revision ON revocations (revision);
CREATE INDEX revocations_expires_at ON revocations (expires_at);
`,
		postgres: `
CREATE TABLE oauth_clients (
	id          TEXT COLLATE "C" PRIMARY KEY,
	entry_id    TEXT NOT NULL,
	auth_method TEXT NOT NULL,
	scopes      TEXT NOT NULL,
	audiences   TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  BIGINT,
	updated_at  BIGINT,
	version     BIGINT NOT NULL
);
CREATE INDEX oauth_clients_entry_id ON oauth_clients (entry_id, id);

CREATE TABLE oauth_client_secrets (
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
	id         TEXT COLLATE "C" NOT NULL,
	hash       BYTEA NOT NULL,
	created_at BIGINT,
	expires_at BIGINT,
	PRIMARY KEY (client_id, id)
);

CREATE TABLE oauth_client_keys (
	client_id  TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
	kid        TEXT COLLATE "C" NOT NULL,
	jwk        BYTEA NOT NULL,
	created_at BIGINT,
	PRIMARY KEY (client_id, kid)
);

INSERT INTO counters (name, value) VALUES ('revocations', 0);
CREATE TABLE revocations (
	kind       TEXT NOT NULL,
	value      TEXT NOT NULL,
	revoked_at BIGINT,
	expires_at BIGINT,
	reason     TEXT NOT NULL,
	revision   BIGINT NOT NULL,
	PRIMARY KEY (kind, value)
);
CREATE INDEX revocations_revision ON revocations (revision);
CREATE INDEX revocations_expires_at ON revocations (expires_at);
`,
	},
	{
		version: 4,
		name:    "node agents, join tokens, agent svids and entry tombstones",
		sqlite: `
CREATE TABLE join_tokens (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	created_at INTEGER,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER,
	agent_id   TEXT NOT NULL
) STRICT;
CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

CREATE TABLE agents (
	id              TEXT PRIMARY KEY,
	spiffe_id       TEXT NOT NULL,
	join_token_id   TEXT NOT NULL,
	serial          TEXT NOT NULL,
	svid_expires_at INTEGER,
	created_at      INTEGER,
	renewed_at      INTEGER,
	evicted_at      INTEGER
) STRICT;

CREATE TABLE agent_svids (
	serial     TEXT PRIMARY KEY,
	agent_id   TEXT NOT NULL,
	entry_id   TEXT NOT NULL,
	spiffe_id  TEXT NOT NULL,
	issued_at  INTEGER,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX agent_svids_agent_id ON agent_svids (agent_id, serial);
CREATE INDEX agent_svids_expires_at ON agent_svids (expires_at);

INSERT INTO counters (name, value) VALUES ('tombstones_pruned', 0);
CREATE TABLE entry_tombstones (
	revision   INTEGER PRIMARY KEY,
	id         TEXT NOT NULL,
	parent_id  TEXT NOT NULL,
	deleted_at INTEGER
) STRICT;
CREATE INDEX entry_tombstones_parent_id ON entry_tombstones (parent_id, revision);
`,
		postgres: `
CREATE TABLE join_tokens (
	id         TEXT COLLATE "C" PRIMARY KEY,
	hash       BYTEA NOT NULL,
	created_at BIGINT,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT,
	agent_id   TEXT NOT NULL
);
CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

CREATE TABLE agents (
	id              TEXT COLLATE "C" PRIMARY KEY,
	spiffe_id       TEXT NOT NULL,
	join_token_id   TEXT NOT NULL,
	serial          TEXT NOT NULL,
	svid_expires_at BIGINT,
	created_at      BIGINT,
	renewed_at      BIGINT,
	evicted_at      BIGINT
);

CREATE TABLE agent_svids (
	serial     TEXT COLLATE "C" PRIMARY KEY,
	agent_id   TEXT COLLATE "C" NOT NULL,
	entry_id   TEXT NOT NULL,
	spiffe_id  TEXT NOT NULL,
	issued_at  BIGINT,
	expires_at BIGINT NOT NULL
);
CREATE INDEX agent_svids_agent_id ON agent_svids (agent_id, serial);
CREATE INDEX agent_svids_expires_at ON agent_svids (expires_at);

INSERT INTO counters (name, value) VALUES ('tombstones_pruned', 0);
CREATE TABLE entry_tombstones (
	revision   BIGINT PRIMARY KEY,
	id         TEXT NOT NULL,
	parent_id  TEXT NOT NULL,
	deleted_at BIGINT
);
CREATE INDEX entry_tombstones_parent_id ON entry_tombstones (parent_id, revision);
`,
	},
	{
		version: 5,
		name:    "policy sets",
		sqlite: `
CREATE TABLE policy_sets (
	revision   INTEGER PRIMARY KEY,
	documents  BLOB NOT NULL,
	actor      TEXT NOT NULL,
	summary    TEXT NOT NULL,
	created_at INTEGER
) STRICT;
`,
		postgres: `
CREATE TABLE policy_sets (
	revision   BIGINT PRIMARY KEY,
	documents  BYTEA NOT NULL,
	actor      TEXT NOT NULL,
	summary    TEXT NOT NULL,
	created_at BIGINT
);
`,
	},
	{
		version: 6,
		name:    "event bundles",
		sqlite: `
CREATE TABLE ledger_bundles (
	last_idx    INTEGER PRIMARY KEY,
	first_idx   INTEGER NOT NULL,
	min_time    INTEGER,
	max_time    INTEGER,
	leaf_hashes BLOB NOT NULL,
	events      BLOB NOT NULL
) STRICT;

CREATE TABLE ledger_keys (
	segment INTEGER NOT NULL,
	key     TEXT NOT NULL,
	PRIMARY KEY (segment, key)
) STRICT, WITHOUT ROWID;

-- The event count is one past the last bundle's last_idx.
DELETE FROM counters WHERE name = 'events';
`,
		postgres: `
CREATE TABLE ledger_bundles (
	last_idx    BIGINT PRIMARY KEY,
	first_idx   BIGINT NOT NULL,
	min_time    BIGINT,
	max_time    BIGINT,
	leaf_hashes BYTEA NOT NULL,
	events      BYTEA NOT NULL
);
-- Bundles are written once and read rarely: skip compressing them on the
-- append path.
ALTER TABLE ledger_bundles ALTER COLUMN events SET STORAGE EXTERNAL;

CREATE TABLE ledger_keys (
	segment BIGINT NOT NULL,
	key     TEXT NOT NULL,
	PRIMARY KEY (segment, key)
);

-- The event count is one past the last bundle's last_idx.
DELETE FROM counters WHERE name = 'events';
`,
		data: bundleEvents,
	},
	{
		version: 7,
		name:    "entries served by any agent",
		// An entry without a parent used to be served by every agent. That
		// is now an explicit opt-in, any_agent; an entry with neither a
		// parent nor the opt-in is served by no agent. Entries stored
		// before keep their meaning: those without a parent are marked.
		sqlite: `
ALTER TABLE entries ADD COLUMN any_agent INTEGER NOT NULL DEFAULT 0;
UPDATE entries SET any_agent = 1 WHERE parent_id = '';
CREATE INDEX entries_any_agent ON entries (any_agent) WHERE any_agent = 1;
`,
		postgres: `
ALTER TABLE entries ADD COLUMN any_agent BIGINT NOT NULL DEFAULT 0;
UPDATE entries SET any_agent = 1 WHERE parent_id = '';
CREATE INDEX entries_any_agent ON entries (any_agent) WHERE any_agent = 1;
`,
	},
}
