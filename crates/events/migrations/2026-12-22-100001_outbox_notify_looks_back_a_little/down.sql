CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT
    SET enable_seqscan = off
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted i WHERE i.published_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM outbox o
                        WHERE o.published_at IS NULL AND o.seq < (SELECT min(i.seq) FROM inserted i)) THEN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
