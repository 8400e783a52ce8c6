-- An admin lists every course promotion code, newest first (keyset on created_at, id); an
-- instructor's own codes use promotion_codes_instructor.
CREATE INDEX promotion_codes_newest ON promotion_codes (created_at DESC, id DESC);
