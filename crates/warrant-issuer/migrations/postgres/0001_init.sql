-- warrant issuer schema (PostgreSQL). Times are Unix seconds; booleans are 0/1 BIGINTs (the
-- `Any` driver carries no SQLite booleans). Keep in step with ../sqlite/0001_init.sql.

CREATE TABLE signing_keys (
    kid BIGINT PRIMARY KEY,
    public_key TEXT NOT NULL,
    private_key BYTEA NOT NULL,     -- PKCS#8 PEM, or XChaCha20-Poly1305 sealed when encrypted = 1
    encrypted BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,              -- no longer signs; still published
    last_expiry BIGINT NOT NULL     -- latest expiry of a token it signed
);

CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    ceiling TEXT NOT NULL,          -- a grant (JSON)
    max_ttl BIGINT NOT NULL         -- seconds
);

CREATE TABLE humans (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    roles TEXT NOT NULL,            -- JSON list of role names
    attrs TEXT NOT NULL,            -- JSON object of verified attributes
    created_at BIGINT NOT NULL
);

CREATE TABLE device_keys (
    human_id TEXT NOT NULL REFERENCES humans(id),
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (human_id, public_key)
);

CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    human_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL
);

CREATE TABLE tokens (
    token_id TEXT PRIMARY KEY,
    human_id TEXT NOT NULL,
    holder TEXT,
    kid BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE revocation_head (
    id BIGINT PRIMARY KEY,
    cursor BIGINT NOT NULL
);
INSERT INTO revocation_head (id, cursor) VALUES (1, 0);

CREATE TABLE revocations (
    cursor BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    actor TEXT NOT NULL
);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL,           -- JSON
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
