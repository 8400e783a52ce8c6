-- A user's latest subscription (`store::subscriptions::latest`: every feature check that misses
-- the entitlement cache, the subscription's own reads) had no index without a status filter:
-- `subscriptions_one_live` covers live statuses only, so each lookup read the whole table (2 ms at
-- 20,000 subscriptions in `make bench`, linear in the table). Found with pg_stat_statements.
-- CONCURRENTLY (metadata.toml: outside a transaction): a live table keeps taking writes meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_by_user ON subscriptions (user_id, created_at DESC);
