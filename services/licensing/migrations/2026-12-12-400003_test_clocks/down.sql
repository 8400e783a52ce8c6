DROP INDEX licenses_test_clock;
ALTER TABLE licenses DROP COLUMN test_clock_id;
