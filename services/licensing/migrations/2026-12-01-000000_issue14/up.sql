-- Issue 14.
-- Every event about a license or one of its seats carries the license's version, bumped in the
-- transaction that writes the event (under the license's row lock), so consumers can apply the
-- events of one license last-writer-by-version whatever order they arrive in.
ALTER TABLE licenses ADD COLUMN license_version BIGINT NOT NULL DEFAULT 0 CHECK (license_version >= 0);

-- Custom domains need proof of ownership before branding is served on them. `custom_domain` is
-- the VERIFIED domain (the only one the public lookup reads, unique across organisations);
-- `pending_custom_domain` is a claim waiting for its DNS TXT record, and is not unique: any
-- number of organisations may claim a domain, only its real owner can verify it.
ALTER TABLE branding
    ADD COLUMN pending_custom_domain TEXT CHECK (pending_custom_domain = lower(pending_custom_domain)),
    ADD COLUMN custom_domain_token TEXT,
    ADD COLUMN custom_domain_verified_at TIMESTAMPTZ,
    ADD CHECK ((pending_custom_domain IS NULL) = (custom_domain_token IS NULL));
CREATE INDEX branding_pending_custom_domain ON branding (pending_custom_domain)
    WHERE pending_custom_domain IS NOT NULL;
-- Custom domains set before verification existed were never proven: they become claims to verify.
UPDATE branding
   SET pending_custom_domain = custom_domain,
       custom_domain_token = replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''),
       custom_domain = NULL
 WHERE custom_domain IS NOT NULL;

-- Keyset pagination of a ticket's comments (oldest first) and a license's seats (by number).
CREATE INDEX IF NOT EXISTS ticket_comments_page ON ticket_comments (ticket_id, created_at, id);
