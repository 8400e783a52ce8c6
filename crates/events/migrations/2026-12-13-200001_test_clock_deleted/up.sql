-- A deleted test clock (subscriptions.test_clock.deleted.v1) is kept, marked: the objects on it
-- stay frozen at its last time (`now` is still their time), no scheduler pass runs for it any
-- more, and nothing new may be attached to it.
ALTER TABLE test_clocks ADD COLUMN deleted_at TIMESTAMPTZ;
