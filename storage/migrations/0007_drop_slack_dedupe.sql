-- The Slack-only delivery dedupe of 0003 was replaced by the intake table (0005), which dedupes
-- every platform's deliveries and is pruned by the core at start; nothing writes here any more.
DROP TABLE IF EXISTS seen_deliveries;
