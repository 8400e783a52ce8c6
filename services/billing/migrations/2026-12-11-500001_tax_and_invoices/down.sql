DROP TABLE credit_notes;
DROP TABLE invoices;
DELETE FROM receipt_counters WHERE series <> 'RCPT';
ALTER TABLE receipt_counters DROP CONSTRAINT receipt_counters_pkey;
ALTER TABLE receipt_counters ADD PRIMARY KEY (year);
ALTER TABLE receipt_counters DROP COLUMN series;
ALTER TABLE payments DROP COLUMN tax_amount, DROP COLUMN tax, DROP COLUMN tax_country, DROP COLUMN lines,
    DROP COLUMN billed_to, DROP COLUMN seller;
DROP TABLE tax_rates;
DROP TABLE billing_details;
