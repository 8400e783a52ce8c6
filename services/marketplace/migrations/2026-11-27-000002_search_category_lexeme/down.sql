CREATE OR REPLACE FUNCTION courses_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search :=
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
    RETURN NEW;
END
$$;
DROP TRIGGER courses_search ON courses;
CREATE TRIGGER courses_search BEFORE INSERT OR UPDATE OF title, description, tags ON courses
    FOR EACH ROW EXECUTE FUNCTION courses_search_update();
UPDATE courses SET title = title;
