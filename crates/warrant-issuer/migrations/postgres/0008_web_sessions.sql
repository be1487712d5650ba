-- Browser sessions of humans signed in with a passkey (postgres). Keep in step with
-- ../sqlite/0008_web_sessions.sql. Only the SHA-256 of the cookie's secret is stored.
CREATE TABLE web_sessions (
    digest TEXT PRIMARY KEY,
    human_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
