-- Replaced by purchases_expiry_due (the previous migration; a separate one because CONCURRENTLY
-- runs one statement outside a transaction).
DROP INDEX CONCURRENTLY IF EXISTS purchases_open;
