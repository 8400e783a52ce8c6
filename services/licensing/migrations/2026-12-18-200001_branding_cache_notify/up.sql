-- The public branding lookup (`GET /api/enterprise/branding?domain=`) is served from a per-replica
-- cache (routes::organizations::public_branding). Every table an answer is read from tells every
-- replica's cache when it changes (platform::invalidation; `cache_notify` comes from the platform
-- migrations): triggers, so no write path (the admin API, the domain verification, erasure, an
-- operator's SQL) can forget one. Whole-cache notifications: the cache is keyed by the domain
-- asked for, which a row does not name alone (a custom domain, else the organisation's), and these
-- tables change rarely. `organizations` notifies only when its domain changes or a row goes: its
-- other columns (name, business hours) are not part of the answer.
CREATE TRIGGER branding_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON branding
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('branding');
CREATE TRIGGER organizations_domain_cache AFTER UPDATE OF domain OR DELETE OR TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('branding');
