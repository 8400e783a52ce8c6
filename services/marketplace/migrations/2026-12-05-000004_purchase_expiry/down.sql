ALTER TABLE purchases DROP COLUMN IF EXISTS expiry_attempted_at;
