DROP TABLE token_flow_days_done;
DROP TABLE token_flow_days;
