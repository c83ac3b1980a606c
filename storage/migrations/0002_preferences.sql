-- Default options per person, per channel and per workspace/server (set with /settings).
CREATE TABLE preferences (
    scope       TEXT NOT NULL,  -- 'user', 'channel' or 'workspace'
    scope_id    TEXT NOT NULL,  -- UserRef.key, 'platform:workspace:channel' or 'platform:workspace'
    values_json TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (scope, scope_id)
);
