DROP INDEX purchases_test_clock;
ALTER TABLE purchases DROP COLUMN test_clock_id;
