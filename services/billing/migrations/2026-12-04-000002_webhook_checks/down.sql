ALTER TABLE payments DROP COLUMN review_detail;
ALTER TABLE payments DROP COLUMN review_flag;
