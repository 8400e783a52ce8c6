-- Test clocks (issue 23, point 5): a purchase on a clock (sandbox only) has its instructor's
-- earnings mature in the clock's time; the wall-clock scheduler leaves them alone.
ALTER TABLE purchases ADD COLUMN test_clock_id UUID;
CREATE INDEX purchases_test_clock ON purchases (test_clock_id) WHERE test_clock_id IS NOT NULL;
