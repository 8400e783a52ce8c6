DROP TABLE payment_voids;
