-- Bulk import (`billhub import bills`): one marker per imported bill, keyed by its invoice
-- number within the organization, with the hash of the row it came from. A re-run skips a row
-- whose number and content are already here and refuses one whose content differs.
CREATE TABLE bill_imports (
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    invoice_number TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    bill_id BIGINT NOT NULL REFERENCES bills (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, invoice_number)
);
