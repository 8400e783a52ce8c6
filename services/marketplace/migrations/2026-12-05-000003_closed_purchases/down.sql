DROP INDEX courses_instructor;
CREATE INDEX courses_instructor ON courses (instructor_id, created_at DESC);
DROP INDEX purchases_open;
ALTER TABLE purchases DROP COLUMN closed_reason;
