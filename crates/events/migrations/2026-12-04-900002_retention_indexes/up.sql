-- The retention job (events::retention) deletes by these times; without them every run would
-- scan the whole table.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX inbox_processed_at ON inbox (processed_at);
