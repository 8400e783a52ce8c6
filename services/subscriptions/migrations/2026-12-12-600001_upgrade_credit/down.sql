ALTER TABLE charges DROP COLUMN proration_credit;
