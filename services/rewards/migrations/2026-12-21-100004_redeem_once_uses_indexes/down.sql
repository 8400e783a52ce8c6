ALTER FUNCTION redeem_once RESET enable_seqscan;
