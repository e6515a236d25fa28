-- billhub foundation schema. Money is BIGINT minor units plus a currency code; timestamps are
-- UTC TIMESTAMP; uuids and JSON are TEXT (see shared/STACK.md for why).

CREATE TABLE organizations (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    utc_offset TEXT NOT NULL DEFAULT '+00:00',
    locale TEXT NOT NULL DEFAULT 'en',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE organization_settings (
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, key)
);

-- Secrets an organization holds for a purpose (the collections callback signature key).
CREATE TABLE organization_keys (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    purpose TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX organization_keys_org ON organization_keys (organization_id, purpose);

-- Banks (VA channel API) and terminal networks (postpaid).
CREATE TABLE channels (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    dialect TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE channel_enrolments (
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel_id, organization_id)
);

-- A credential belongs to an organization (biller APIs) or to a channel. Tokens and client
-- secrets are SHA-256 hashes; secrets needed in the clear are AEAD-encrypted (secret_enc).
CREATE TABLE credentials (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT REFERENCES organizations (id),
    channel_id BIGINT REFERENCES channels (id),
    dialect TEXT NOT NULL,
    kind TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    client_id TEXT UNIQUE,
    client_secret_hash TEXT,
    username TEXT UNIQUE,
    secret_enc TEXT,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- Short-lived bearer tokens issued by /oauth/token (hashed).
CREATE TABLE access_tokens (
    id BIGSERIAL PRIMARY KEY,
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE va_prefixes (
    prefix TEXT PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE collections (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    webhook_url TEXT,
    redirect_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX collections_org ON collections (organization_id);

-- The payer's account: `code` is what a payer types at any channel.
CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    name_latin TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (organization_id, code)
);

CREATE TABLE products (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    title TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    -- A catalogue price as a decimal string; bills copy it into exact minor units.
    price TEXT NOT NULL,
    currency TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX products_org ON products (organization_id);

CREATE TABLE bills (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    collection_id BIGINT REFERENCES collections (id),
    public_no TEXT NOT NULL UNIQUE,
    invoice_number TEXT NOT NULL,
    ref1 TEXT NOT NULL DEFAULT '',
    ref2 TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL,
    billed BIGINT NOT NULL,
    paid BIGINT NOT NULL DEFAULT 0,
    bill_date DATE NOT NULL,
    due_date DATE,
    valid_until TIMESTAMP,
    rule TEXT NOT NULL,
    rule_minimum BIGINT,
    status TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    -- Dialect-specific presentation details as a JSON object.
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (billed >= 0),
    CHECK (paid >= 0)
);
CREATE INDEX bills_account ON bills (account_id);
CREATE INDEX bills_org_invoice ON bills (organization_id, invoice_number);
CREATE INDEX bills_collection ON bills (collection_id);

CREATE TABLE bill_items (
    id BIGSERIAL PRIMARY KEY,
    bill_id BIGINT NOT NULL REFERENCES bills (id),
    uid TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    total BIGINT NOT NULL,
    product_id BIGINT REFERENCES products (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX bill_items_bill ON bill_items (bill_id);

-- prefix + 10 digits. A number is unique among bills still payable (active = true).
CREATE TABLE va_numbers (
    id BIGSERIAL PRIMARY KEY,
    bill_id BIGINT NOT NULL REFERENCES bills (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    prefix TEXT NOT NULL,
    number TEXT NOT NULL,
    position INTEGER NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX va_numbers_active ON va_numbers (number) WHERE active;
CREATE INDEX va_numbers_bill ON va_numbers (bill_id);
CREATE INDEX va_numbers_number ON va_numbers (number);

CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
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
CREATE INDEX payments_account ON payments (account_id);
CREATE INDEX payments_org ON payments (organization_id, created_at);

CREATE TABLE payment_allocations (
    id BIGSERIAL PRIMARY KEY,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    bill_id BIGINT NOT NULL REFERENCES bills (id),
    amount BIGINT NOT NULL,
    CHECK (amount > 0)
);
CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_bill ON payment_allocations (bill_id);

-- A payment is reversed at most once (UNIQUE payment_id).
CREATE TABLE reversals (
    id BIGSERIAL PRIMARY KEY,
    payment_id BIGINT NOT NULL UNIQUE REFERENCES payments (id),
    channel TEXT NOT NULL,
    channel_ref TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    UNIQUE (channel, channel_ref)
);

-- Account credit ledger per (organization, account, currency): sum(amount) is the balance.
CREATE TABLE account_credit_entries (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    note TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX account_credit_entries_account ON account_credit_entries (account_id, currency);

-- Money a channel took that billhub could not apply: never dropped.
CREATE TABLE unapplied_payments (
    id BIGSERIAL PRIMARY KEY,
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

-- Append-only history of every bill.
CREATE TABLE bill_events (
    id BIGSERIAL PRIMARY KEY,
    bill_id BIGINT NOT NULL REFERENCES bills (id),
    kind TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    amount BIGINT,
    status_after TEXT NOT NULL,
    paid_after BIGINT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX bill_events_bill ON bill_events (bill_id, id);

-- The outbox: one neutral event, one delivery per target, each rendered by its dialect.
CREATE TABLE notification_events (
    id BIGSERIAL PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL,
    bill_id BIGINT REFERENCES bills (id),
    payment_id BIGINT REFERENCES payments (id),
    payload TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE notification_deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id BIGINT NOT NULL REFERENCES notification_events (id),
    dialect TEXT NOT NULL,
    target_url TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    lock_token TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    last_status INTEGER,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (dialect, status, next_attempt_at);

-- Stored first responses of idempotent requests, per scope (e.g. a collections token's org).
CREATE TABLE idempotency_keys (
    id BIGSERIAL PRIMARY KEY,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    UNIQUE (scope, key)
);

-- Postpaid transaction codes: single use, expiring, bound to terminal, account and invoices.
CREATE TABLE postpaid_codes (
    code TEXT PRIMARY KEY,
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    terminal_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    bill_ids TEXT NOT NULL,
    total BIGINT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_by_payment_id BIGINT REFERENCES payments (id),
    created_at TIMESTAMP NOT NULL
);

-- Used one-time authenticators (e.g. a CSQ (U, ST, SH) on a payment route) until they expire.
CREATE TABLE auth_nonces (
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, nonce)
);
