-- A suspended license pauses its members' grants without ending them (reinstatement resumes them).
ALTER TABLE grants ADD COLUMN suspended_at TIMESTAMPTZ;
CREATE INDEX grants_reference ON grants (source, reference);
