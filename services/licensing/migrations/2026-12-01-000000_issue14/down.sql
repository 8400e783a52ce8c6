DROP INDEX IF EXISTS ticket_comments_page;
UPDATE branding SET custom_domain = pending_custom_domain WHERE custom_domain IS NULL AND pending_custom_domain IS NOT NULL;
DROP INDEX IF EXISTS branding_pending_custom_domain;
ALTER TABLE branding
    DROP COLUMN custom_domain_verified_at,
    DROP COLUMN custom_domain_token,
    DROP COLUMN pending_custom_domain;
ALTER TABLE licenses DROP COLUMN license_version;
