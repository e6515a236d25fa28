PRAGMA defer_foreign_keys = ON;

-- SQLite cannot drop a table constraint: both tables are rebuilt with their rows (ids kept).
-- Rows elsewhere that refer to payments are checked when the migration commits.
CREATE TABLE payments_rebuilt AS SELECT * FROM payments;
DROP TABLE payments;
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    account_id BIGINT REFERENCES accounts (id),
    channel TEXT NOT NULL,
    channel_ref TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    fee BIGINT NOT NULL DEFAULT 0,
    credit BIGINT NOT NULL DEFAULT 0,
    payer_name TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    paid_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel, channel_ref),
    CHECK (amount > 0)
);
INSERT INTO payments (id, uid, organization_id, account_id, channel, channel_ref, request_hash, method, currency, amount, fee, credit, payer_name, details, paid_at, created_at)
SELECT id, uid, organization_id, account_id, channel, channel_ref, request_hash, method, currency, amount, fee, credit, payer_name, details, paid_at, created_at FROM payments_rebuilt;
DROP TABLE payments_rebuilt;
CREATE INDEX payments_account ON payments (account_id);
CREATE INDEX payments_org ON payments (organization_id, created_at);

CREATE TABLE unapplied_payments_rebuilt AS SELECT * FROM unapplied_payments;
DROP TABLE unapplied_payments;
CREATE TABLE unapplied_payments (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT REFERENCES organizations (id),
    channel TEXT NOT NULL,
    channel_ref TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    account_code TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    UNIQUE (channel, channel_ref)
);
INSERT INTO unapplied_payments (id, organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at, resolved_at)
SELECT id, organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at, resolved_at FROM unapplied_payments_rebuilt;
DROP TABLE unapplied_payments_rebuilt;

DROP TABLE payment_references;
UPDATE unapplied_payments SET status = 'open', resolved_at = NULL WHERE status = 'duplicate';
