-- Fold what is pending before the table goes.
UPDATE courses c SET purchase_count = c.purchase_count + d.n
  FROM (SELECT course_id, sum(delta) AS n FROM course_purchase_deltas GROUP BY course_id) d
 WHERE c.id = d.course_id AND d.n <> 0;
DROP TABLE course_purchase_deltas;
