DROP TABLE mrr_daily;
DROP TABLE mrr_movements;
DROP FUNCTION mrr_daily_add();
DROP FUNCTION mrr_movements_append_only();
