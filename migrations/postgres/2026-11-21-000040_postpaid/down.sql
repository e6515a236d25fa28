DROP INDEX postpaid_codes_expires;
ALTER TABLE postpaid_codes DROP COLUMN currency;
ALTER TABLE postpaid_codes DROP COLUMN payment_type;
ALTER TABLE postpaid_codes DROP COLUMN fee;
