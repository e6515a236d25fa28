-- Per-channel settings (`billhub channel set ID KEY VALUE`), as organization_settings are per
-- organization: a bank's auth scheme (`va.auth`), CSQ single-use salts, SNAP keys.
CREATE TABLE channel_settings (
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel_id, key)
);
