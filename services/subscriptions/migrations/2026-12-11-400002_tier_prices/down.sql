ALTER TABLE subscriptions DROP COLUMN currency;
DROP TABLE tier_prices;
