DROP INDEX bills_org_bill_date;
DROP INDEX unapplied_org_created;
DROP INDEX payments_org_paid;
