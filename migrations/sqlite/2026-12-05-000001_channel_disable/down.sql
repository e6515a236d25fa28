ALTER TABLE channels DROP COLUMN disabled_at;
