-- /describe: the prompt suggestions written for an image, which the suggestion buttons name by
-- id (a button id is too short to carry four prompts). Scoped by platform and workspace.
CREATE TABLE suggestions (
    id            TEXT PRIMARY KEY,
    platform      TEXT NOT NULL,
    workspace     TEXT NOT NULL,
    channel       TEXT NOT NULL,
    thread        TEXT NOT NULL,
    requester     TEXT NOT NULL,
    source        TEXT NOT NULL,
    prompts_json  TEXT NOT NULL,
    model         TEXT NOT NULL,
    label         TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd      REAL NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL
);

-- A description's cost counts where every job's does (/usage, budgets), so it gets a usage row
-- of its own (0 images, the text model, its id as job_id). usage.job_id referenced jobs(id):
-- the table is rebuilt without that reference, same columns and indexes.
CREATE TABLE usage_rebuilt (
    job_id     TEXT PRIMARY KEY,
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
INSERT INTO usage_rebuilt (job_id, platform, workspace, requester, model, images, input_tokens,
    output_tokens, cost_usd, created_at)
    SELECT job_id, platform, workspace, requester, model, images, input_tokens, output_tokens,
        cost_usd, created_at FROM usage;
DROP TABLE usage;
ALTER TABLE usage_rebuilt RENAME TO usage;
CREATE INDEX usage_by_requester ON usage(requester, created_at);
CREATE INDEX usage_by_workspace ON usage(platform, workspace, created_at);
CREATE INDEX usage_by_workspace_requester ON usage(platform, workspace, requester, created_at);
