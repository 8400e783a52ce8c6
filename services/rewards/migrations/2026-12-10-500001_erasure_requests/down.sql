DROP TABLE erasure_confirmations;
DROP TABLE erasure_requests;
