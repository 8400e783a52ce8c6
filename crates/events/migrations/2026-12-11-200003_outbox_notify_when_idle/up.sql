-- Notify the relay only when it may be idle (issue 22). PostgreSQL serialises the commits of all
-- transactions that NOTIFY in a database (a database-wide lock taken at pre-commit and held until
-- the commit record is flushed), so a notification from every write made every money write in
-- every schema commit one at a time, without group commit: pgbench measured a redemption capped
-- at ~100-300 commits/s here with it and 370-750/s without it (docs/performance.md, round 2).
--
-- A statement now notifies only when no other unpublished row is ahead of the rows it inserted.
-- If there is one, the relay has been woken for it (or is publishing it) and, having published a
-- batch, polls again at once and then briefly keeps polling (events::relay), so it finds these
-- rows too; a commit landing after that short tail is found by the fallback poll. Notifying too
-- often is harmless; the condition only errs on the side of notifying. Rows of this transaction's
-- earlier statements count as ahead: the first statement's decision stands for the transaction.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outbox o
                    WHERE o.published_at IS NULL AND o.seq < (SELECT min(i.seq) FROM inserted i)) THEN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
-- The function reads `outbox` unqualified: pin it to the schema it was created in, so a writer
-- with another search_path (scripts, pgbench) still reads its own schema's outbox.
ALTER FUNCTION outbox_notify() SET search_path FROM CURRENT;
DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
