-- A disabled channel's credentials stop authenticating (`billhub channel disable ID`).
ALTER TABLE channels ADD COLUMN disabled_at TIMESTAMP;
