-- The ledger's core: one row per externalUserId, and one row per import run.
-- No personal data lives here: rows are named by externalUserId and source line only.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    file         TEXT NOT NULL,
    file_sha256  TEXT,
    environment  TEXT NOT NULL,
    options      TEXT NOT NULL,           -- JSON, never the API key
    counts       TEXT,                    -- JSON summary counts
    outcome      TEXT NOT NULL DEFAULT 'running',  -- running | completed | interrupted | fatal | error
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL
);

CREATE TABLE rows (
    external_user_id  TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN
                        ('invalid','pending','in_flight','created','exists','rejected','failed')),
    source_file       TEXT NOT NULL,
    source_line       INTEGER NOT NULL,
    fingerprint       TEXT NOT NULL,      -- hash of the row's normalised content
    user_id           TEXT,
    poa_required      INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_http_status  INTEGER,
    error_code        TEXT,
    error_name        TEXT,
    error_message     TEXT,
    reconciled        INTEGER NOT NULL DEFAULT 0,  -- created, proven by P411 after our own unknown outcome
    unknown_outcome   INTEGER NOT NULL DEFAULT 0,  -- an attempt may have reached the server unanswered
    changed_after_creation INTEGER NOT NULL DEFAULT 0,
    first_run         INTEGER NOT NULL REFERENCES runs(id),
    last_run          INTEGER NOT NULL REFERENCES runs(id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);

CREATE INDEX rows_by_state ON rows(state);
