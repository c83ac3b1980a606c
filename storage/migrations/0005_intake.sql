-- Durable intake: every incoming request is stored (its dedupe key and the payload needed to
-- handle it) before the platform is acknowledged. The key is the dedupe: a redelivery finds the
-- row. A row not finished is handled again on the next start. `notes` keeps facts a handler
-- learned on the way (e.g. the Slack message it already posted), so a replay does not repeat them.
CREATE TABLE intake (
    key          TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    notes_json   TEXT NOT NULL DEFAULT '{}',
    attempts     INTEGER NOT NULL DEFAULT 0,
    received_at  REAL NOT NULL,
    finished_at  REAL
);
CREATE INDEX intake_unfinished ON intake(platform, finished_at, received_at);

-- The request a job was made for: one request makes at most one job, even when it is handled
-- again after a crash.
ALTER TABLE jobs ADD COLUMN intake_key TEXT;
CREATE UNIQUE INDEX jobs_by_intake_key ON jobs(intake_key) WHERE intake_key IS NOT NULL;
