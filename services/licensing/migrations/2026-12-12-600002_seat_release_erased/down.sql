ALTER TABLE seats DROP CONSTRAINT seats_release_reason_check;
ALTER TABLE seats ADD CONSTRAINT seats_release_reason_check CHECK (release_reason IN ('released_by_user',
    'released_by_org_admin', 'released_by_admin', 'license_expired', 'license_revoked'));
