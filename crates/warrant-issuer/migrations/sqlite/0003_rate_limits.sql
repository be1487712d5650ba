-- Rate-limit counters shared by every replica (SQLite). Keep in step with ../postgres/0003_rate_limits.sql.
CREATE TABLE rate_counters (
    bucket TEXT NOT NULL,           -- what is limited and for whom: `mint:alice`
    window_start BIGINT NOT NULL,   -- Unix seconds, a multiple of the window
    count BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
