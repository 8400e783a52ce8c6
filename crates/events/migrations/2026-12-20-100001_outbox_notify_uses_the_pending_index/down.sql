ALTER FUNCTION outbox_notify() RESET enable_seqscan;
