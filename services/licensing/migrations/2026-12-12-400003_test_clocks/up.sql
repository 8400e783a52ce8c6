-- Test clocks (issue 23, point 5): a license on a clock (sandbox only) expires, and its tickets'
-- SLA timers breach, in the clock's time; the wall-clock scheduler leaves them alone.
ALTER TABLE licenses ADD COLUMN test_clock_id UUID;
CREATE INDEX licenses_test_clock ON licenses (test_clock_id) WHERE test_clock_id IS NOT NULL;
