-- Prices in several currencies (issue 20, point 7). A tier has one price per currency it is sold
-- in; `tiers.price`/`tiers.currency` stay as the tier's default price (the currency a subscribe
-- without `currency` is billed in), and that price is the first row here. The prices are data:
-- operators add or change them with SQL (the tier caches are invalidated by the trigger below).
CREATE TABLE tier_prices (
    tier     TEXT          NOT NULL REFERENCES tiers (code),
    currency CHAR(3)       NOT NULL CHECK (currency IN ('USD', 'EUR', 'GBP', 'BRL')),
    price    NUMERIC(19,4) NOT NULL CHECK (price >= 0 AND price <> 'NaN'),
    PRIMARY KEY (tier, currency)
);
INSERT INTO tier_prices (tier, currency, price) SELECT code, currency, price FROM tiers;
INSERT INTO tier_prices (tier, currency, price) VALUES
    ('free', 'EUR', 0), ('free', 'GBP', 0), ('free', 'BRL', 0),
    ('pro', 'EUR', 9.49), ('pro', 'GBP', 7.99), ('pro', 'BRL', 49.90),
    ('enterprise', 'EUR', 94), ('enterprise', 'GBP', 79), ('enterprise', 'BRL', 499)
ON CONFLICT DO NOTHING;
CREATE TRIGGER tier_prices_table AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tier_prices
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('tiers');

-- A subscription is billed in one currency for its life: renewals, upgrades and resumes are
-- priced from `tier_prices` in it. Existing subscriptions were billed in their tier's currency.
ALTER TABLE subscriptions ADD COLUMN currency CHAR(3);
UPDATE subscriptions s SET currency = t.currency FROM tiers t WHERE t.code = s.tier;
ALTER TABLE subscriptions ALTER COLUMN currency SET NOT NULL;
