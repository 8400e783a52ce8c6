-- Fold what is pending before the table goes, or those moves would be lost from the histogram.
INSERT INTO score_histogram (board, score, users)
SELECT board, score, sum(delta) FROM score_histogram_deltas GROUP BY board, score HAVING sum(delta) > 0
ON CONFLICT (board, score) DO UPDATE SET users = score_histogram.users + EXCLUDED.users;
UPDATE score_histogram h SET users = h.users + d.n
  FROM (SELECT board, score, sum(delta) AS n FROM score_histogram_deltas GROUP BY board, score HAVING sum(delta) < 0) d
 WHERE h.board = d.board AND h.score = d.score;
DROP TABLE score_histogram_deltas;
