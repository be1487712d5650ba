-- Registered agents (SQLite). Keep in step with ../postgres/0002_agents.sql.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    owner TEXT,                     -- the human it acts for, if any
    disabled BIGINT NOT NULL,       -- 0/1
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_challenges (
    nonce TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL
);
