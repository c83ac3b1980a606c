-- Prompt templates (issue 11): a person's own, or the workspace's (owner ''), per platform and
-- workspace. Names are kept as typed and unique per shelf without regard to case (name_key).
CREATE TABLE templates (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    owner       TEXT NOT NULL,  -- UserRef.key, or '' for the workspace's templates
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,  -- lower(name)
    body_json   TEXT NOT NULL,  -- {"parts": [{"prompt", "label"}], "flags": {...}}
    created_by  TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE UNIQUE INDEX templates_by_name ON templates(platform, workspace, owner, name_key);
