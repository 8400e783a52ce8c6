DROP INDEX subscriptions_test_clock;
ALTER TABLE subscriptions DROP COLUMN test_clock_id;
DROP INDEX test_clocks_owner;
ALTER TABLE test_clocks DROP COLUMN name, DROP COLUMN frozen_time, DROP COLUMN status,
    DROP COLUMN created_at;
