-- Budgets are never overshot: a job reserves its estimated cost when it is accepted, and the
-- reservation counts against the budgets while the job is queued or running. The requester's
-- key is a column so a person's monthly budget can be checked in the same transaction.
ALTER TABLE jobs ADD COLUMN reserved_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN requester TEXT;
CREATE INDEX jobs_by_workspace_status ON jobs(platform, workspace, status);
CREATE INDEX usage_by_workspace_requester ON usage(platform, workspace, requester, created_at);
UPDATE jobs SET requester = json_extract(requester_json, '$.platform') || ':' || json_extract(requester_json, '$.id');
