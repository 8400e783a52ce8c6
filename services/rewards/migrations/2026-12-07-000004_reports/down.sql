DROP INDEX vouchers_expiring;
DROP INDEX vouchers_consumed;
DROP INDEX vouchers_issued;
DROP INDEX token_transactions_time;
ALTER TABLE catalog_items DROP CONSTRAINT catalog_items_value;
ALTER TABLE catalog_items DROP COLUMN value_currency;
ALTER TABLE catalog_items DROP COLUMN value;
