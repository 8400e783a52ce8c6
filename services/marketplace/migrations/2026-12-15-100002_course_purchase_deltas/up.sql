-- A completed (or refunded) purchase records +1 (-1) here instead of updating its course's
-- `purchase_count`: at a course's launch every purchase updated that one row and queued on its
-- lock until the one before committed, and the update rewrote the row's entries in all eight of
-- the course's indexes (the count is indexed for the popularity sort). `PURCHASE_COUNT_FOLD`
-- (platform::fold) adds the deltas into the courses about once a second.
CREATE TABLE course_purchase_deltas (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    course_id UUID NOT NULL,
    delta     INT  NOT NULL CHECK (delta IN (-1, 1))
);
