-- One key per payment reference, whatever became of the money (posted, or kept as unapplied
-- money): two requests racing under one reference can never record it twice. Biller-side
-- channels (the biller names the reference: `bill24`, `credit`, `sandbox`; core's
-- `Channel::is_biller_side`) are keyed per organization (scope = the organization); a bank's or
-- terminal network's references are its own across organizations (scope 0).

-- Rows referring to payments are checked at commit, after payments is rebuilt below.
PRAGMA defer_foreign_keys = ON;

-- Damage from before: a reference both posted and kept as open unapplied money. The payment
-- stays; the unapplied twin is resolved as a duplicate (`billhub check` reports it).
UPDATE unapplied_payments SET status = 'duplicate', resolved_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
WHERE status = 'open'
  AND EXISTS (SELECT 1 FROM payments p
              WHERE p.channel = unapplied_payments.channel
                AND p.channel_ref = unapplied_payments.channel_ref
                AND (p.channel NOT IN ('bill24', 'credit', 'sandbox')
                     OR p.organization_id = unapplied_payments.organization_id));

CREATE TABLE payment_references (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    scope BIGINT NOT NULL,
    channel_ref TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel, scope, channel_ref)
);

INSERT INTO payment_references (channel, scope, channel_ref, created_at)
SELECT channel,
       CASE WHEN channel IN ('bill24', 'credit', 'sandbox') THEN organization_id ELSE 0 END,
       channel_ref, created_at
FROM payments;

INSERT INTO payment_references (channel, scope, channel_ref, created_at)
SELECT u.channel,
       CASE WHEN u.channel IN ('bill24', 'credit', 'sandbox') THEN COALESCE(u.organization_id, 0)
            ELSE 0 END,
       u.channel_ref, u.created_at
FROM unapplied_payments u
WHERE NOT EXISTS (SELECT 1 FROM payments p
                  WHERE p.channel = u.channel AND p.channel_ref = u.channel_ref
                    AND (p.channel NOT IN ('bill24', 'credit', 'sandbox')
                         OR p.organization_id = u.organization_id));

-- The tables themselves: unique within an organization (the key above is the rule).
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
    UNIQUE (channel, channel_ref, organization_id),
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
    UNIQUE (channel, channel_ref, organization_id)
);
INSERT INTO unapplied_payments (id, organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at, resolved_at)
SELECT id, organization_id, channel, channel_ref, request_hash, account_code, currency, amount, reason, details, status, created_at, resolved_at FROM unapplied_payments_rebuilt;
DROP TABLE unapplied_payments_rebuilt;
