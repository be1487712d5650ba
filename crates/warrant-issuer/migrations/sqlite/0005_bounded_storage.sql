-- Bounded storage and single-use ID tokens (sqlite). Keep in step with ../postgres/0004_bounded_storage.sql.

-- ID tokens already used to verify a human (SHA-256 of the token, hex), kept until they
-- expire: the same ID token never verifies twice, whatever its nonce.
CREATE TABLE used_id_tokens (
    digest TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_id_tokens_expires ON used_id_tokens (expires_at);

-- Expired challenges and old rate-limit windows are pruned by time.
CREATE INDEX challenges_expires ON challenges (expires_at);
CREATE INDEX agent_challenges_expires ON agent_challenges (expires_at);
CREATE INDEX rate_counters_window ON rate_counters (window_start);
