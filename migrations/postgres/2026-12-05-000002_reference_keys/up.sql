-- One key per payment reference, whatever became of the money (posted, or kept as unapplied
-- money): two requests racing under one reference can never record it twice. Biller-side
-- channels (the biller names the reference: `bill24`, `credit`, `sandbox`; core's
-- `Channel::is_biller_side`) are keyed per organization (scope = the organization); a bank's or
-- terminal network's references are its own across organizations (scope 0).

-- Damage from before: a reference both posted and kept as open unapplied money. The payment
-- stays; the unapplied twin is resolved as a duplicate (`billhub check` reports it).
UPDATE unapplied_payments SET status = 'duplicate', resolved_at = (now() AT TIME ZONE 'UTC')
WHERE status = 'open'
  AND EXISTS (SELECT 1 FROM payments p
              WHERE p.channel = unapplied_payments.channel
                AND p.channel_ref = unapplied_payments.channel_ref
                AND (p.channel NOT IN ('bill24', 'credit', 'sandbox')
                     OR p.organization_id = unapplied_payments.organization_id));

CREATE TABLE payment_references (
    id BIGSERIAL PRIMARY KEY,
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
ALTER TABLE payments DROP CONSTRAINT payments_channel_channel_ref_key;
ALTER TABLE payments ADD CONSTRAINT payments_channel_ref_organization_key
    UNIQUE (channel, channel_ref, organization_id);
ALTER TABLE unapplied_payments DROP CONSTRAINT unapplied_payments_channel_channel_ref_key;
ALTER TABLE unapplied_payments ADD CONSTRAINT unapplied_payments_channel_ref_organization_key
    UNIQUE (channel, channel_ref, organization_id);
