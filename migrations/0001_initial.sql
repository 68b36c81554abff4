-- Portable between SQLite and PostgreSQL: text ids, BIGINT epoch-millisecond times,
-- booleans as BIGINT 0/1, no engine-specific types or auto-increment columns.

-- One business per Twilio number.
CREATE TABLE businesses (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    greeting TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    voice TEXT,
    transfer_to TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- A caller, known by phone number within one business.
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    phone TEXT NOT NULL,
    name TEXT,
    created_at_ms BIGINT NOT NULL,
    last_contact_ms BIGINT NOT NULL,
    UNIQUE (business_id, phone)
);

-- Every call the voice webhook saw, answered or turned away. `status` is sicha's view;
-- `twilio_status` and `twilio_duration_secs` are Twilio's, from status callbacks.
CREATE TABLE calls (
    call_sid TEXT PRIMARY KEY,
    business_id TEXT REFERENCES businesses (id),
    customer_id TEXT REFERENCES customers (id),
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    stream_started_at_ms BIGINT,
    ended_at_ms BIGINT,
    end_reason TEXT,
    twilio_status TEXT,
    twilio_duration_secs BIGINT,
    recording_path TEXT
);
CREATE INDEX calls_by_start ON calls (started_at_ms);
CREATE INDEX calls_by_number ON calls (to_number, started_at_ms);
CREATE INDEX calls_open_by_instance ON calls (instance_id, ended_at_ms);

-- Things that happened during a call (barge-in, loop, fallback, dtmf, error), in insertion
-- order per call: `seq` is assigned by the insert itself.
CREATE TABLE events (
    call_sid TEXT NOT NULL REFERENCES calls (call_sid),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (call_sid, seq)
);

-- The conversation, one row per caller utterance or agent answer, with per-stage timings.
CREATE TABLE turns (
    call_sid TEXT NOT NULL REFERENCES calls (call_sid),
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    heard_text TEXT,
    started_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT NOT NULL,
    interrupted BIGINT NOT NULL DEFAULT 0,
    stt_ms BIGINT,
    llm_ttft_ms BIGINT,
    llm_first_sentence_ms BIGINT,
    tts_ttfb_ms BIGINT,
    endpoint_ms BIGINT,
    v2v_ms BIGINT,
    PRIMARY KEY (call_sid, seq)
);

-- The CRM record of a call: at most one per call.
CREATE TABLE interactions (
    id TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    call_sid TEXT UNIQUE REFERENCES calls (call_sid),
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    outcome TEXT,
    transcript TEXT NOT NULL,
    summary TEXT,
    recording_path TEXT,
    started_at_ms BIGINT NOT NULL,
    duration_ms BIGINT,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX interactions_by_customer ON interactions (customer_id, started_at_ms);

-- Durable deliveries (CRM webhooks, SMS). `status` is pending, delivered or dead; a pending row
-- is due when `next_attempt_at_ms` has passed, and claiming it pushes that time out by a lease.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    delivered_at_ms BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at_ms);

-- Media stream token nonces already used: the primary key makes each token single-use across
-- every instance sharing the database. No foreign key: this is a replay ledger, pruned by age.
CREATE TABLE stream_tokens (
    nonce TEXT PRIMARY KEY,
    call_sid TEXT NOT NULL,
    used_at_ms BIGINT NOT NULL
);
CREATE INDEX stream_tokens_by_use ON stream_tokens (used_at_ms);
