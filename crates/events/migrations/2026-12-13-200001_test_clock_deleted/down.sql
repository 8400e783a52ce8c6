ALTER TABLE test_clocks DROP COLUMN deleted_at;
