DROP TABLE stripe_events;
DROP TABLE billing_history;
DROP TABLE receipt_counters;
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE customers;
