-- Exports and reconciliation (`billhub export`, `billhub reconcile`): an organization's payments,
-- unapplied money and bills read in time order, in batches (keyset pagination on time, then id).
CREATE INDEX payments_org_paid ON payments (organization_id, paid_at, id);
CREATE INDEX unapplied_org_created ON unapplied_payments (organization_id, created_at, id);
CREATE INDEX bills_org_bill_date ON bills (organization_id, bill_date, id);
