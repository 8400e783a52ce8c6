-- An award records the user's move between score rows here instead of updating `score_histogram`
-- in the ledger's transaction: learners earning the same tokens at once (a launch) all moved into
-- one histogram row and queued on its lock until each committed (docs/scaling.md, hot spot 1).
-- Inserts never wait for each other. `histogram_fold` adds the deltas into `score_histogram` about
-- once a second, in one transaction; until then readers add the pending ones, so ranks stay exact.
CREATE TABLE score_histogram_deltas (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    board TEXT   NOT NULL,
    score BIGINT NOT NULL CHECK (score > 0),
    delta INT    NOT NULL CHECK (delta IN (-1, 1))
);
-- Readers sum the pending deltas above a score, as they sum the histogram.
CREATE INDEX score_histogram_deltas_board_score ON score_histogram_deltas (board, score);
