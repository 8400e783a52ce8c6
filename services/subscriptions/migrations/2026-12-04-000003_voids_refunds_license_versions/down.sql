ALTER TABLE grants ADD COLUMN suspended_at TIMESTAMPTZ;
UPDATE grants g SET suspended_at = now() FROM licenses l WHERE g.source = 'license' AND g.reference = l.license_id AND l.status = 'suspended';
DROP TABLE licenses;
ALTER TABLE grants DROP COLUMN version;
UPDATE charges SET status = 'failed' WHERE status = 'voided';
ALTER TABLE charges DROP COLUMN void_reason;
ALTER TABLE charges DROP COLUMN period_end;
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('pending', 'succeeded', 'failed'));
