-- Every table a feature answer is computed from tells every replica's caches when it changes
-- (platform::invalidation; `cache_notify` comes from the platform migrations). Triggers, not calls
-- in the code, so no write path (handler, consumer, scheduler, operator SQL) can forget one.
CREATE TRIGGER subscriptions_features AFTER INSERT OR UPDATE OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION cache_notify('features', 'user_id');
CREATE TRIGGER grants_features AFTER INSERT OR UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION cache_notify('features', 'user_id');

-- A license's state (suspended, revoked, expired, extended) changes the answer of every member
-- holding one of its seats. The function runs with the schema it was created in, so an
-- operator's session with another search_path still finds `grants`.
CREATE FUNCTION license_members_notify() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify('cache_' || TG_TABLE_SCHEMA, 'features:' || g.user_id)
       FROM grants g
      WHERE g.source = 'license' AND g.reference IN (NEW.license_id, OLD.license_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER licenses_features AFTER INSERT OR UPDATE OR DELETE ON licenses
    FOR EACH ROW EXECUTE FUNCTION license_members_notify();

-- Tiers and their features are in the tier table and in every cached answer.
CREATE TRIGGER tiers_table AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('tiers');
CREATE TRIGGER tiers_features AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tiers
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('features');
CREATE TRIGGER tier_features_table AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tier_features
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('tiers');
CREATE TRIGGER tier_features_features AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tier_features
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('features');
