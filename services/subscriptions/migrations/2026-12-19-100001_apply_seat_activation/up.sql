-- One seat activation as subscriptions applies it (`consumers::seat_activated`), in one round trip
-- of a statement prepared once per connection: the seat's grant (last writer by version), then the
-- license's end the event reports, written only when it is news.
--
-- Why a function: the expiry note is an INSERT ... SELECT ... WHERE NOT EXISTS that diesel's query
-- builder cannot express, so it went as SQL text, which diesel never prepares: two round trips
-- (parse and describe, then execute) and a fresh plan for every seat event, after the grant's own
-- round trip. PL/pgSQL keeps both plans for the session.
--
-- The statements are the ones the service sent before, unchanged (see store::licenses for why
-- the expiry is skipped, not rewritten, when the license already has it). Returns whether the
-- grant was written (false: a later seat event was applied already).
CREATE OR REPLACE FUNCTION apply_seat_activation(
    p_grant_id uuid, p_user uuid, p_license text, p_tier text, p_at timestamptz,
    p_ends_at timestamptz, p_version bigint
) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    granted boolean;
BEGIN
    INSERT INTO grants (id, user_id, source, tier, reference, starts_at, ends_at, revoked_at, version)
    VALUES (p_grant_id, p_user, 'license', p_tier, p_license, p_at, p_ends_at, NULL, p_version)
    ON CONFLICT (source, reference, user_id) DO UPDATE
        SET tier = EXCLUDED.tier, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
            revoked_at = NULL, version = EXCLUDED.version
        WHERE grants.version <= EXCLUDED.version;
    granted := FOUND;
    -- Last, and only when the end is news: the license's row is shared by every seat of the
    -- license and a write holds it until the commit.
    IF p_ends_at IS NOT NULL THEN
        INSERT INTO licenses (license_id, expires_at, expires_version)
        SELECT p_license, p_ends_at, p_version
         WHERE NOT EXISTS (SELECT 1 FROM licenses WHERE license_id = p_license AND expires_at = p_ends_at)
        ON CONFLICT (license_id) DO UPDATE
            SET expires_at = EXCLUDED.expires_at, expires_version = EXCLUDED.expires_version
            WHERE licenses.expires_version <= EXCLUDED.expires_version;
    END IF;
    RETURN granted;
END
$$;
