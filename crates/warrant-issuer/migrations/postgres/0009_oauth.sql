-- OAuth 2.1 authorization server (postgres). Keep in step with ../sqlite/0009_oauth.sql.

-- An authorization from /authorize until its code is exchanged (or it ends). The human is
-- whoever signs in and decides on the consent page.
CREATE TABLE oauth_authorizations (
    id TEXT PRIMARY KEY,            -- 32 hex digits, random: the consent page's id
    client_id TEXT NOT NULL,
    client_name TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT,                     -- echoed to the client
    code_challenge TEXT NOT NULL,   -- PKCE S256
    resource TEXT NOT NULL,         -- canonical: the token's audience
    scope TEXT,                     -- as asked, when asked by scope
    grant_json TEXT NOT NULL,       -- the grant asked
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,     -- the human decides before
    status TEXT NOT NULL,           -- pending, approved, denied, exchanged
    human_id TEXT,                  -- who decided
    role TEXT,
    approved_json TEXT,             -- the grant approved (the asked one, or narrowed)
    method TEXT,                    -- how the human was verified
    verified_at BIGINT,
    lifetime BIGINT,                -- seconds the consent may be refreshed, from the exchange
    code_hash TEXT UNIQUE,          -- SHA-256 of the code, once approved
    code_expires_at BIGINT,
    family TEXT,                    -- the refresh family the code started, once exchanged
    decided_at BIGINT
);
CREATE INDEX oauth_authorizations_expires ON oauth_authorizations (expires_at);

-- A refresh-token family: one consent exchanged once, its refresh token rotating.
CREATE TABLE oauth_families (
    id TEXT PRIMARY KEY,            -- 32 hex digits, random
    client_id TEXT NOT NULL,
    human_id TEXT NOT NULL,
    role TEXT NOT NULL,
    resource TEXT NOT NULL,
    grant_json TEXT NOT NULL,       -- the grant approved
    method TEXT NOT NULL,
    verified_at BIGINT NOT NULL,
    holder TEXT NOT NULL,           -- the DPoP key every token and refresh is bound to
    current_hash TEXT NOT NULL,     -- SHA-256 of the live refresh token
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,     -- no refresh after
    revoked_at BIGINT               -- a replay, or the human, ended it
);
CREATE INDEX oauth_families_expires ON oauth_families (expires_at);

-- Refresh tokens used already (rotated away): presenting one again revokes its family.
CREATE TABLE oauth_used_refresh (
    hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_used_refresh_expires ON oauth_used_refresh (expires_at);

-- The access tokens each family minted (revoked with it).
CREATE TABLE oauth_family_tokens (
    token_id TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_family_tokens_family ON oauth_family_tokens (family);

-- Consents a human asked to be remembered: the same client asking the same grant for the
-- same resource again gets a code at once while the human is signed in.
CREATE TABLE oauth_consents (
    human_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    asked_digest TEXT NOT NULL,     -- SHA-256 of the grant asked, canonical JSON
    client_name TEXT NOT NULL,
    role TEXT NOT NULL,
    approved_json TEXT NOT NULL,
    lifetime BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (human_id, client_id, resource, asked_digest)
);
