-- Wake the outbox relay as soon as an event commits instead of making it poll: every statement
-- that inserts outbox rows sends one notification on the channel `outbox_<schema>` (schemas share
-- a database, channels are per database). PostgreSQL delivers it at commit, never for a rolled-back
-- transaction, and folds repeats within one transaction into one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
