-- The licensing schema's own tables start with the domain issue; shared tables come from crates/platform and crates/events.
SELECT 1;
