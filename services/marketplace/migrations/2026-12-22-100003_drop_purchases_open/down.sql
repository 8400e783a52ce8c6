CREATE INDEX CONCURRENTLY IF NOT EXISTS purchases_open ON purchases (created_at)
    WHERE status IN ('pending', 'failed') AND closed_reason IS NULL;
