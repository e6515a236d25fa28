-- Operator console people and their sessions (docs/console.md). A user belongs to one
-- organization; the e-mail is unique per organization whatever its case (email_key is its
-- lowercase form). Only the argon2id PHC string of a password is kept.
CREATE TABLE console_users (
    id INTEGER PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP
);
CREATE UNIQUE INDEX console_users_email ON console_users (organization_id, email_key);

-- A signed-in browser: only the SHA-256 of its random 256-bit cookie value is kept, so a copy
-- of the database does not sign anyone in. csrf_token is the session's form token.
CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES console_users (id),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
