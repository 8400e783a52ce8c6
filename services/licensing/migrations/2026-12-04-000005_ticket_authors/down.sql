DROP INDEX IF EXISTS tickets_author;
