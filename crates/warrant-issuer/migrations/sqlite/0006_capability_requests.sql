-- Capability requests (sqlite). Keep in step with ../postgres/0006_capability_requests.sql.

-- An agent's request for a token, awaiting its human's approval. Single use: pending,
-- then approved or denied, then (approved) collected once by the agent. No token is
-- stored: it is minted when the agent collects it.
CREATE TABLE capability_requests (
    id TEXT PRIMARY KEY,            -- 32 hex digits, random
    agent_id TEXT NOT NULL,
    agent_key TEXT NOT NULL,        -- ed25519/<hex>: only its proofs may poll
    human_id TEXT NOT NULL,
    role TEXT NOT NULL,             -- the role whose ceiling it fits
    grant_json TEXT NOT NULL,       -- the grant asked for
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,     -- pending and approved requests end here
    status TEXT NOT NULL,           -- pending, approved, denied, collected
    approved_json TEXT,             -- the grant approved, when the human narrowed it
    method TEXT,                    -- how the approving human was verified
    verified_at BIGINT,
    token_expires_at BIGINT,        -- fixed at approval
    decided_at BIGINT,
    token_id TEXT                   -- once collected
);
CREATE INDEX capability_requests_expires ON capability_requests (expires_at);

-- DPoP proofs (their jti) already used at the issuer, kept until their window closes.
CREATE TABLE used_proofs (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_proofs_expires ON used_proofs (expires_at);
