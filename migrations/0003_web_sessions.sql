-- Web sign-in sessions, shared by every instance on the database, so a restart or another
-- instance behind the balancer keeps people signed in. Only the SHA-256 of the cookie's token is
-- kept: a copy of this table lets no one in. A session ends at `expires_at_ms`, when signed out,
-- or once unused for longer than the idle limit after `last_seen_ms`.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at_ms);
CREATE INDEX web_sessions_by_last_seen ON web_sessions (last_seen_ms);

-- Failed web sign-ins: one row per limited key (client address, user name) of each attempt, so
-- every instance counts the same failures. Pruned once older than the limiter's window.
CREATE TABLE sign_in_failures (
    attempt_id TEXT NOT NULL,
    limit_key TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (attempt_id, limit_key)
);
CREATE INDEX sign_in_failures_by_key ON sign_in_failures (limit_key, at_ms);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (at_ms);
