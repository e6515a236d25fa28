-- The operator console's action log (docs/console.md): who applied, refunded or retried what
-- and when. Each row is written in the same transaction as the action it records, and kept
-- forever (nothing deletes or updates it). email is the user's e-mail at that moment.
CREATE TABLE console_actions (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    user_id BIGINT NOT NULL REFERENCES console_users (id),
    email TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX console_actions_organization ON console_actions (organization_id, id);
