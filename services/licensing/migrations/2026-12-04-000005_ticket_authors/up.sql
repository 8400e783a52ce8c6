-- Issue 15: an ordinary member lists only the tickets they filed, newest first.
CREATE INDEX tickets_author ON tickets (created_by, created_at DESC, id DESC);
