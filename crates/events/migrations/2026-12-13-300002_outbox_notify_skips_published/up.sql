-- A statement whose rows are all published already (the physical-limit baseline of `make bench`,
-- scripts/bench-baseline-redeem.sql, writes the row a redemption leaves once its relay has marked
-- it) gives the relay nothing to do, so it notifies no one (issue 22). Without this, that
-- baseline sent a NOTIFY on every commit (no row is ever pending ahead of it), and with it the
-- database-wide commit serialisation a real write with a busy relay avoids: the baseline was
-- held below what the database can do, and every scenario's share of it looked better than it is.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted i WHERE i.published_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM outbox o
                        WHERE o.published_at IS NULL AND o.seq < (SELECT min(i.seq) FROM inserted i)) THEN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
-- CREATE OR REPLACE drops the function's settings: pin it to its schema again (see 2026-12-11-200003).
ALTER FUNCTION outbox_notify() SET search_path FROM CURRENT;
