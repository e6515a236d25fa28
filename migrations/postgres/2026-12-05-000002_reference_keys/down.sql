ALTER TABLE unapplied_payments DROP CONSTRAINT unapplied_payments_channel_ref_organization_key;
ALTER TABLE unapplied_payments ADD CONSTRAINT unapplied_payments_channel_channel_ref_key
    UNIQUE (channel, channel_ref);
ALTER TABLE payments DROP CONSTRAINT payments_channel_ref_organization_key;
ALTER TABLE payments ADD CONSTRAINT payments_channel_channel_ref_key UNIQUE (channel, channel_ref);
DROP TABLE payment_references;
UPDATE unapplied_payments SET status = 'open', resolved_at = NULL WHERE status = 'duplicate';
