-- Deskway broker schema, SQLite. Times are Unix microseconds (0 = none).
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      BOOLEAN NOT NULL DEFAULT false,
	totp_secret   BLOB,
	totp_pending  BLOB,
	totp_step     BIGINT NOT NULL DEFAULT 0,
	created       BIGINT NOT NULL,
	last_login    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash    BLOB NOT NULL,
	PRIMARY KEY (user_id, hash)
);

CREATE TABLE auth_sessions (
	token_hash BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	api        BOOLEAN NOT NULL,
	pending    BOOLEAN NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created    BIGINT NOT NULL,
	seen       BIGINT NOT NULL,
	expires    BIGINT NOT NULL,
	ip         TEXT NOT NULL,
	user_agent TEXT NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires ON auth_sessions (expires);

CREATE TABLE enroll_codes (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL UNIQUE,
	owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_by TEXT NOT NULL,
	created    BIGINT NOT NULL,
	expires    BIGINT NOT NULL
);

CREATE TABLE hosts (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	os         TEXT NOT NULL,
	version    TEXT NOT NULL,
	owner_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	device_pub BLOB NOT NULL UNIQUE,
	enrolled   BIGINT NOT NULL,
	instance   TEXT NOT NULL DEFAULT '',
	conn_id    TEXT NOT NULL DEFAULT '',
	seen_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX hosts_owner ON hosts (owner_id);
CREATE INDEX hosts_instance ON hosts (instance);

CREATE TABLE host_access (
	host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (host_id, user_id)
);
CREATE INDEX host_access_user ON host_access (user_id);

CREATE TABLE support (
	session_id    BLOB PRIMARY KEY,
	nameplate     TEXT NOT NULL,
	host_id       TEXT NOT NULL,
	wait_hash     BLOB NOT NULL,
	name          TEXT NOT NULL,
	os            TEXT NOT NULL,
	version       TEXT NOT NULL,
	ip            TEXT NOT NULL,
	created       BIGINT NOT NULL,
	expires       BIGINT NOT NULL,
	technician_id TEXT NOT NULL DEFAULT ''
);
-- A nameplate is unique among pending requests only.
CREATE UNIQUE INDEX support_pending ON support (nameplate) WHERE technician_id = '';

CREATE TABLE sessions (
	id              BLOB PRIMARY KEY,
	mode            TEXT NOT NULL,
	host_id         TEXT NOT NULL,
	host_name       TEXT NOT NULL,
	viewer_id       TEXT NOT NULL,
	viewer_name     TEXT NOT NULL,
	nameplate       TEXT NOT NULL,
	refresh_hash    BLOB,
	start_at        BIGINT NOT NULL,
	end_at          BIGINT NOT NULL DEFAULT 0,
	last_ticket     BIGINT NOT NULL,
	bytes_from_host BIGINT NOT NULL DEFAULT 0,
	bytes_to_host   BIGINT NOT NULL DEFAULT 0,
	end_reason      TEXT NOT NULL DEFAULT '',
	relays          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_start ON sessions (start_at);
CREATE INDEX sessions_host ON sessions (host_id);
CREATE INDEX sessions_viewer ON sessions (viewer_id);

CREATE TABLE audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     BIGINT NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	ip     TEXT NOT NULL,
	ok     BOOLEAN NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor);
CREATE INDEX audit_action ON audit (action);

CREATE TABLE ticket_keys (
	kid       TEXT PRIMARY KEY,
	pub       BLOB NOT NULL,
	priv      BLOB NOT NULL,
	created   BIGINT NOT NULL,
	activates BIGINT NOT NULL,
	retired   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

CREATE TABLE offers (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	target  TEXT NOT NULL,
	payload BLOB NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX offers_target ON offers (target);
