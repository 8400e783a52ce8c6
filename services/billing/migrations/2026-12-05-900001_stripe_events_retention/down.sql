DROP INDEX stripe_events_received_at;
