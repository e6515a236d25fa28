-- Postpaid (CSQ) transaction codes remember what the invoice lookup showed, so that the payment
-- is judged against exactly that: the service fee (minor units), the payment type
-- (total|discrete|open) and the currency of the listed invoices.
ALTER TABLE postpaid_codes ADD COLUMN fee BIGINT NOT NULL DEFAULT 0;
ALTER TABLE postpaid_codes ADD COLUMN payment_type TEXT NOT NULL DEFAULT 'open';
ALTER TABLE postpaid_codes ADD COLUMN currency TEXT NOT NULL DEFAULT '';
CREATE INDEX postpaid_codes_expires ON postpaid_codes (expires_at);
