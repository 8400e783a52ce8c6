-- The retention job deletes processed Stripe events by age (platform::retention).
CREATE INDEX stripe_events_received_at ON stripe_events (received_at);
