-- Deliveries already handled (event ids, interaction trigger ids, message ids), so a platform's
-- retry or redelivery never runs twice, even across a restart or on another replica.
CREATE TABLE seen_deliveries (
    key     TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX seen_deliveries_by_time ON seen_deliveries(seen_at);
