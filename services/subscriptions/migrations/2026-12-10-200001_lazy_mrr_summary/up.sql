-- mrr_daily is no longer kept by a trigger (concurrent changes of one kind on one day queued on
-- one summary row in their transactions): the subscriptions report summarises closed UTC days
-- lazily (platform::reports::DailySummary, the same mechanism as the other services' reports),
-- marking each day done in the statement that writes its rows. The rows kept so far are dropped
-- and rebuilt that way from mrr_movements, which holds every fact, dated with the service clock.
DROP TRIGGER mrr_daily_add ON mrr_movements;
DROP FUNCTION mrr_daily_add();
TRUNCATE mrr_daily;
-- The days summarised (also the ones without movements).
CREATE TABLE mrr_days_done (day DATE PRIMARY KEY);
