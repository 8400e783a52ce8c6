-- Charges remember the period they pay for (a payment for a period already paid is given back)
-- and a charge abandoned with its subscription is `voided`: billing was asked to cancel or refund it.
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'voided'));
ALTER TABLE charges ADD COLUMN period_end TIMESTAMPTZ;
ALTER TABLE charges ADD COLUMN void_reason TEXT;

-- Licensing's events carry `license_version`, one counter per license for the license and its
-- seats. Each grant keeps the version of the last seat event applied to it; the license's own
-- state and end are kept here, each with the version that set it (last writer by version wins,
-- whatever the delivery order). A seat grant counts only while its license is `active`.
ALTER TABLE grants ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE TABLE licenses (
    license_id      TEXT        PRIMARY KEY,
    status          TEXT        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked', 'expired')),
    status_version  BIGINT      NOT NULL DEFAULT 0,
    expires_at      TIMESTAMPTZ,
    expires_version BIGINT      NOT NULL DEFAULT 0
);
-- Suspensions applied before this migration move to their license's row.
INSERT INTO licenses (license_id, status)
SELECT DISTINCT reference, 'suspended' FROM grants WHERE source = 'license' AND suspended_at IS NOT NULL
ON CONFLICT DO NOTHING;
ALTER TABLE grants DROP COLUMN suspended_at;
