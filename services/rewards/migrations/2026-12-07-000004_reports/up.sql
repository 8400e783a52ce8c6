-- Rewards report (issue 19).
-- What an item is worth in money, so outstanding tokens can be valued as a liability: the most a
-- token could cost the platform is the best value per token among the active items of a currency.
-- A month of Pro is worth its list price (subscriptions' tier price; kept here as catalogue data),
-- a voucher its discount.
ALTER TABLE catalog_items ADD COLUMN value NUMERIC(19,4) CHECK (value > 0 AND value <> 'NaN');
ALTER TABLE catalog_items ADD COLUMN value_currency CHAR(3);
ALTER TABLE catalog_items ADD CONSTRAINT catalog_items_value CHECK ((value IS NULL) = (value_currency IS NULL));
UPDATE catalog_items SET value = 9.99, value_currency = 'USD' WHERE item = 'pro_month';
UPDATE catalog_items SET value = voucher_discount, value_currency = voucher_currency WHERE voucher_discount IS NOT NULL;

-- The report reads the ledger by time: an index-only scan of one range per request.
CREATE INDEX token_transactions_time ON token_transactions (created_at) INCLUDE (kind, amount);
-- Vouchers by the three dates the report buckets them on.
CREATE INDEX vouchers_issued ON vouchers (issued_at) INCLUDE (currency, discount);
CREATE INDEX vouchers_consumed ON vouchers (consumed_at) INCLUDE (currency, discount) WHERE consumed_at IS NOT NULL;
CREATE INDEX vouchers_expiring ON vouchers (expires_at) INCLUDE (currency, discount, status);
