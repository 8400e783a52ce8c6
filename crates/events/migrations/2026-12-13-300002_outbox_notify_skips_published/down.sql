CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outbox o
                    WHERE o.published_at IS NULL AND o.seq < (SELECT min(i.seq) FROM inserted i)) THEN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
-- CREATE OR REPLACE drops the function's settings: pin it to its schema again (see 2026-12-11-200003).
ALTER FUNCTION outbox_notify() SET search_path FROM CURRENT;
