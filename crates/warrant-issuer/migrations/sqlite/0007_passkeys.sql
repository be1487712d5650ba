-- Passkeys (sqlite). Keep in step with ../postgres/0007_passkeys.sql.

-- A human's passkeys (WebAuthn credentials, user verification required).
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY, -- base64url, as the authenticator names it
    human_id TEXT NOT NULL,
    passkey_json TEXT NOT NULL,     -- the public key, its algorithm and signature counter
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_human ON passkeys (human_id);

-- One-time invitations to enrol a passkey: only the SHA-256 of the secret in the link.
CREATE TABLE invites (
    digest TEXT PRIMARY KEY,
    human_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL            -- 0/1
);
CREATE INDEX invites_expires ON invites (expires_at);

-- WebAuthn ceremonies between their start and finish, consumed once: the library's state,
-- and the digest of what the ceremony is for (an enrolment, or exactly one decision).
CREATE TABLE ceremonies (
    id TEXT PRIMARY KEY,            -- 32 hex digits
    kind TEXT NOT NULL,             -- registration, authentication
    human_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    state_json TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL            -- 0/1
);
CREATE INDEX ceremonies_expires ON ceremonies (expires_at);
