DROP INDEX CONCURRENTLY IF EXISTS purchases_payable_failed;
