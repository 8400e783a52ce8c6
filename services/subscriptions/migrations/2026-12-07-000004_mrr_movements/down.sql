DROP TABLE mrr_movements;
DROP FUNCTION mrr_movements_append_only();
