DROP INDEX grants_reference;
ALTER TABLE grants DROP COLUMN suspended_at;
