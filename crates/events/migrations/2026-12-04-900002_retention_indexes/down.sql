DROP INDEX inbox_processed_at;
DROP INDEX outbox_published_at;
