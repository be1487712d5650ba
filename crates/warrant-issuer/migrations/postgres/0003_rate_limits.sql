-- Rate-limit counters shared by every replica (PostgreSQL). Keep in step with ../sqlite/0003_rate_limits.sql.
CREATE TABLE rate_counters (
    bucket TEXT NOT NULL,           -- what is limited and for whom: `mint:alice`
    window_start BIGINT NOT NULL,   -- Unix seconds, a multiple of the window
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
