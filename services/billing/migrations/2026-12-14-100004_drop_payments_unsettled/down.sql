CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_unsettled ON payments (updated_at)
    WHERE status NOT IN ('succeeded', 'canceled') AND review_flag IS NULL;
