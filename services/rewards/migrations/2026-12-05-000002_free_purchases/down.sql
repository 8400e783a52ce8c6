DELETE FROM earning_counters WHERE rule_id = 'course_enrolled_free';
DELETE FROM earning_rules WHERE id = 'course_enrolled_free';
ALTER TABLE earning_rules DROP CONSTRAINT earning_rules_daily_cap_check;
ALTER TABLE earning_rules ADD CONSTRAINT earning_rules_daily_cap_check CHECK (daily_cap > 0);
