-- Sessions (one per chat thread), images with their lineage, sets, jobs and usage.

CREATE TABLE sessions (
    id               INTEGER PRIMARY KEY,
    platform         TEXT NOT NULL,
    workspace        TEXT NOT NULL,
    channel          TEXT NOT NULL,
    thread           TEXT NOT NULL,
    current_image_id TEXT,
    last_set_id      TEXT,
    awaiting_pick    INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    UNIQUE (platform, workspace, channel, thread)
);

CREATE TABLE images (
    id             TEXT PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    set_id         TEXT,
    set_index      INTEGER,
    blob           TEXT NOT NULL,
    mime           TEXT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    operation      TEXT NOT NULL,
    prompt         TEXT NOT NULL,
    params_json    TEXT NOT NULL,
    revised_prompt TEXT,
    requester      TEXT NOT NULL,
    input_tokens   INTEGER NOT NULL DEFAULT 0,
    output_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_usd       REAL NOT NULL DEFAULT 0,
    label          TEXT,
    job_id         TEXT,
    created_at     REAL NOT NULL
);
CREATE INDEX images_by_session ON images(session_id, created_at);
CREATE INDEX images_by_requester ON images(requester, created_at);

-- Lineage: an image's parents in order (the primary input first, then references).
CREATE TABLE image_parents (
    image_id  TEXT NOT NULL REFERENCES images(id),
    parent_id TEXT NOT NULL REFERENCES images(id),
    position  INTEGER NOT NULL,
    PRIMARY KEY (image_id, position)
);

CREATE TABLE image_sets (
    id         TEXT PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    job_id     TEXT,
    operation  TEXT NOT NULL,
    prompt     TEXT NOT NULL,
    requester  TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    platform       TEXT NOT NULL,
    workspace      TEXT NOT NULL,
    channel        TEXT NOT NULL,
    thread         TEXT NOT NULL,
    requester_json TEXT NOT NULL,
    spec_json      TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    error_kind     TEXT,
    error_message  TEXT,
    result_set_id  TEXT,
    created_at     REAL NOT NULL,
    started_at     REAL,
    finished_at    REAL
);
CREATE INDEX jobs_by_status ON jobs(status, created_at);

-- One row per finished job that made images: what quotas and /usage count.
CREATE TABLE usage (
    job_id     TEXT PRIMARY KEY REFERENCES jobs(id),
    platform   TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    requester  TEXT NOT NULL,
    model      TEXT NOT NULL,
    images     INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd   REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX usage_by_requester ON usage(requester, created_at);
CREATE INDEX usage_by_workspace ON usage(platform, workspace, created_at);

-- Where results were posted, so a retried delivery never double-posts.
CREATE TABLE posts (
    job_id     TEXT NOT NULL,
    platform   TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, platform, message_ref)
);
