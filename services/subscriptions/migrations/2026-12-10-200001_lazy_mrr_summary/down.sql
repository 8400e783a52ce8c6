DROP TABLE mrr_days_done;
TRUNCATE mrr_daily;
CREATE FUNCTION mrr_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mrr_daily VALUES (
        date_trunc('day', NEW.occurred_at, 'UTC'), NEW.currency, COALESCE(NEW.kind, ''),
        COALESCE(NEW.tier_before, ''), COALESCE(NEW.status_before, ''),
        COALESCE(NEW.tier_after, ''), COALESCE(NEW.status_after, ''),
        1, NEW.mrr_after - NEW.mrr_before)
    ON CONFLICT (day_start, currency, kind, tier_before, status_before, tier_after, status_after)
    DO UPDATE SET movements = mrr_daily.movements + 1, delta = mrr_daily.delta + EXCLUDED.delta;
    RETURN NULL;
END $$;
CREATE TRIGGER mrr_daily_add AFTER INSERT ON mrr_movements FOR EACH ROW EXECUTE FUNCTION mrr_daily_add();
INSERT INTO mrr_daily
SELECT date_trunc('day', occurred_at, 'UTC'), currency, COALESCE(kind, ''), COALESCE(tier_before, ''),
       COALESCE(status_before, ''), COALESCE(tier_after, ''), COALESCE(status_after, ''), count(*),
       sum(mrr_after - mrr_before)
  FROM mrr_movements GROUP BY 1, 2, 3, 4, 5, 6, 7;
