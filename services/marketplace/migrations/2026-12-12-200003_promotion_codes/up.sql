-- Promotion codes for courses (issue 20, point 2). An admin's code is funded by the platform
-- (the voucher rule: the instructor still earns their rate of the list price); an instructor's
-- code covers only their own courses and is funded from their share (the platform keeps its rate
-- of the list price). A code takes a percentage or an amount per currency off, may be restricted
-- to courses and/or categories, limited in redemptions, expire, or be for a first purchase only.
CREATE TABLE promotion_codes (
    id                  UUID         PRIMARY KEY,
    -- As shown; unique case-insensitively.
    code                TEXT         NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{3,40}$'),
    funded_by           TEXT         NOT NULL CHECK (funded_by IN ('platform', 'instructor')),
    -- The instructor whose share funds it (and whose courses only it covers).
    instructor_id       UUID,
    percent_off         NUMERIC(7,4) CHECK (percent_off > 0 AND percent_off <= 100),
    course_ids          UUID[],
    categories          TEXT[],
    max_redemptions     INTEGER      CHECK (max_redemptions >= 1),
    -- Purchases holding it (pending or completed); a closed purchase gives its redemption back.
    redeemed            INTEGER      NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    expires_at          TIMESTAMPTZ,
    first_purchase_only BOOLEAN      NOT NULL DEFAULT false,
    active              BOOLEAN      NOT NULL DEFAULT true,
    created_by          UUID         NOT NULL,
    created_at          TIMESTAMPTZ  NOT NULL,
    CHECK (max_redemptions IS NULL OR redeemed <= max_redemptions),
    CHECK ((funded_by = 'instructor') = (instructor_id IS NOT NULL)),
    CHECK (funded_by = 'platform' OR course_ids IS NOT NULL)
);
CREATE UNIQUE INDEX promotion_codes_code ON promotion_codes (lower(code));
CREATE INDEX promotion_codes_instructor ON promotion_codes (instructor_id, created_at DESC) WHERE instructor_id IS NOT NULL;

-- Amount-off codes: one amount per currency (a course bought in another currency gets none).
CREATE TABLE promotion_code_amounts (
    promotion_code_id UUID          NOT NULL REFERENCES promotion_codes (id),
    currency          CHAR(3)       NOT NULL,
    amount            NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN'),
    PRIMARY KEY (promotion_code_id, currency)
);

-- A purchase's code: its discount is in `discount` (as a voucher's is), who funds it decides the
-- split, and `promotion_released_at` marks the redemption given back (closed purchase).
ALTER TABLE purchases ADD COLUMN promotion_code_id UUID REFERENCES promotion_codes (id);
ALTER TABLE purchases ADD COLUMN promotion_code TEXT;
ALTER TABLE purchases ADD COLUMN promotion_funded_by TEXT CHECK (promotion_funded_by IN ('platform', 'instructor'));
ALTER TABLE purchases ADD COLUMN promotion_released_at TIMESTAMPTZ;
ALTER TABLE purchases ADD CONSTRAINT purchases_promotion
    CHECK ((promotion_code_id IS NULL) = (promotion_funded_by IS NULL)
       AND (promotion_code_id IS NULL) = (promotion_code IS NULL)
       AND (promotion_code_id IS NULL OR voucher_code_prefix IS NULL));
ALTER TABLE purchases DROP CONSTRAINT purchases_voucher;
ALTER TABLE purchases ADD CONSTRAINT purchases_voucher
    CHECK (voucher_code_prefix IS NOT NULL OR voucher_reserved_at IS NULL AND voucher_released_at IS NULL);
ALTER TABLE purchases ADD CONSTRAINT purchases_discount_source
    CHECK (discount = 0 OR voucher_code_prefix IS NOT NULL OR promotion_code_id IS NOT NULL);
-- "First purchase only" asks whether the buyer completed a purchase before.
CREATE INDEX purchases_buyer_any ON purchases (buyer_id) WHERE completed_at IS NOT NULL;
