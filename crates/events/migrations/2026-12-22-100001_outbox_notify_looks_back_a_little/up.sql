-- outbox_notify() looks for a pending row ahead of the statement's rows from those rows backwards,
-- and only among the 1,000 sequence numbers before them (issue 22).
--
-- It used to ask for any pending row with a lower seq, and PostgreSQL answered that by walking the
-- partial index `outbox_pending` from its low end. Publishing a row does not remove its entry from
-- that index (the update cannot be HOT: published_at is indexed), only VACUUM does, and autovacuum
-- visits the outbox once per 10,000 published rows at most (2026-12-19-200001), so the walk crossed
-- the entry of every row published since then before reaching the one pending row it needed:
-- `make bench`'s seat scenario read 33 index and heap pages per insert for this check alone, and
-- more the longer it ran.
--
-- Backwards from the new rows, a busy outbox answers at once (the row before is still pending), and
-- an idle one after at most 1,000 entries, however many rows were published since the last VACUUM.
-- A pending row further back than that no longer counts as ahead: the writer then notifies,
-- which is harmless (the condition only ever errs on the side of notifying); a relay that far
-- behind is being woken by every new row anyway.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT
    SET enable_seqscan = off
AS $$
DECLARE
    first_new BIGINT;
BEGIN
    SELECT min(i.seq) INTO first_new FROM inserted i WHERE i.published_at IS NULL;
    IF first_new IS NULL THEN
        RETURN NULL; -- every row was written published: the relay has nothing to do
    END IF;
    -- Rows of this transaction's earlier statements count as ahead: the first statement's
    -- decision stands for the transaction. ORDER BY ... LIMIT makes it a backward index scan
    -- (inside EXISTS the planner would drop both).
    PERFORM 1 FROM outbox o
      WHERE o.published_at IS NULL AND o.seq < first_new AND o.seq >= first_new - 1000
      ORDER BY o.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
    END IF;
    RETURN NULL;
END
$$;
