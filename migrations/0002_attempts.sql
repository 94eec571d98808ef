-- Audit trail: one row per HTTP request the importer sent.

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    external_user_id TEXT NOT NULL,
    at               TEXT NOT NULL,
    latency_ms       INTEGER NOT NULL,
    http_status      INTEGER,              -- NULL when no answer arrived
    error_code       TEXT,
    outcome          TEXT NOT NULL         -- created | exists | rejected | retryable | fatal
);

CREATE INDEX attempts_by_user ON attempts(external_user_id);
