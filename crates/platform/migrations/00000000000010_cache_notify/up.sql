-- Cross-replica cache invalidation (platform::invalidation). A table that an in-process cache is
-- computed from gets a trigger calling `cache_notify(cache [, key column])`; it sends
-- `NOTIFY cache_<schema>` with the payload `<cache>:<key>` (the old and the new row's key, per row)
-- or `<cache>` (statement-level, or no key column: the whole cache). PostgreSQL delivers it at
-- commit, never for a rolled-back transaction, and folds identical ones within a transaction.
CREATE FUNCTION cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    channel TEXT := 'cache_' || TG_TABLE_SCHEMA;
    cache TEXT := TG_ARGV[0];
    key_column TEXT := TG_ARGV[1];
BEGIN
    IF TG_LEVEL = 'STATEMENT' OR key_column IS NULL THEN
        PERFORM pg_notify(channel, cache);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify(channel, cache || ':' || (to_jsonb(OLD) ->> key_column));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify(channel, cache || ':' || (to_jsonb(NEW) ->> key_column));
    END IF;
    RETURN NULL;
END
$$;
