-- Admin credentials (SQLite). Keep in step with ../postgres/0004_admin_credentials.sql.
-- An admin credential is a random secret, not a warrant token: only its SHA-256 is kept,
-- and every admin request reads its row, so a revocation binds every replica at once.
CREATE TABLE admin_credentials (
    id TEXT PRIMARY KEY,            -- 32 hex digits, the public half of the credential
    secret_hash TEXT NOT NULL,      -- hex SHA-256 of the secret half
    created_at BIGINT NOT NULL,     -- Unix seconds
    expires_at BIGINT NOT NULL,     -- Unix seconds
    revoked_at BIGINT,              -- Unix seconds, NULL while live
    created_by TEXT NOT NULL        -- `issuer` (first start) or the admin that rotated
);
