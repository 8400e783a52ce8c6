-- Free courses no longer earn through `course_purchased`: enrolling costs nothing, so each one
-- minted tokens (10, up to 200 a day) that learners could farm into Pro months. They earn through
-- a rule of their own, with a cap of its own that is 0 by default (nothing). Raise it with an
-- UPDATE to reward free enrolments again, apart from paid ones.
ALTER TABLE earning_rules DROP CONSTRAINT earning_rules_daily_cap_check;
ALTER TABLE earning_rules ADD CONSTRAINT earning_rules_daily_cap_check CHECK (daily_cap >= 0);
INSERT INTO earning_rules (id, description, fixed_tokens, tokens_per_unit, unit_currency, daily_cap) VALUES
    ('course_enrolled_free', 'Free course enrolled', 10, 0, NULL, 0);
