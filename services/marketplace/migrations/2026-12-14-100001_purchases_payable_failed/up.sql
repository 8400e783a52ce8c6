-- A new purchase supersedes the buyer's declined, unclosed purchases of the same course
-- (`store::purchases::lock_payable_failed`). Without an index on buyer and course for them, that
-- lookup walked `purchases_open`, every unpaid purchase of every buyer: 0.96 ms per purchase at
-- 6,000 open purchases in `make bench`, growing with the table, the largest statement of a
-- purchase. Partial: only declined, unclosed purchases are indexed, so writes barely pay for it.
-- CONCURRENTLY (metadata.toml: outside a transaction): a live table keeps taking writes meanwhile.
CREATE INDEX CONCURRENTLY IF NOT EXISTS purchases_payable_failed
    ON purchases (buyer_id, course_id) WHERE status = 'failed' AND closed_reason IS NULL;
