DROP INDEX promotion_codes_newest;
