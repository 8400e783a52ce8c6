-- Coupons and promotion codes (issue 20, point 2). A coupon says what comes off (a percentage, or
-- an amount per currency) and for how long; customers redeem a promotion code that points at it.
-- Redemption counters are taken with a guarded UPDATE (`redeemed < max_redemptions`), so a limit
-- holds under any concurrency; the CHECKs restate it.
CREATE TABLE coupons (
    id                  UUID          PRIMARY KEY,
    name                TEXT          NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    percent_off         NUMERIC(7,4)  CHECK (percent_off > 0 AND percent_off <= 100),
    duration            TEXT          NOT NULL CHECK (duration IN ('once', 'repeating', 'forever')),
    duration_in_months  INT           CHECK (duration_in_months BETWEEN 1 AND 120),
    -- NULL: every paid tier.
    tiers               TEXT[],
    max_redemptions     INT           CHECK (max_redemptions > 0),
    redeemed            INT           NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    expires_at          TIMESTAMPTZ,
    first_purchase_only BOOLEAN       NOT NULL DEFAULT false,
    active              BOOLEAN       NOT NULL DEFAULT true,
    created_at          TIMESTAMPTZ   NOT NULL,
    CHECK ((duration = 'repeating') = (duration_in_months IS NOT NULL)),
    CHECK (max_redemptions IS NULL OR redeemed <= max_redemptions)
);
CREATE INDEX coupons_created ON coupons (created_at DESC, id DESC);

-- Amount off, one row per currency (a coupon has either percent_off or these rows).
CREATE TABLE coupon_amounts (
    coupon_id UUID          NOT NULL REFERENCES coupons (id),
    currency  CHAR(3)       NOT NULL,
    amount    NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN'),
    PRIMARY KEY (coupon_id, currency)
);

CREATE TABLE promotion_codes (
    id              UUID        PRIMARY KEY,
    coupon_id       UUID        NOT NULL REFERENCES coupons (id),
    code            TEXT        NOT NULL,
    max_redemptions INT         CHECK (max_redemptions > 0),
    redeemed        INT         NOT NULL DEFAULT 0 CHECK (redeemed >= 0),
    expires_at      TIMESTAMPTZ,
    active          BOOLEAN     NOT NULL DEFAULT true,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK (max_redemptions IS NULL OR redeemed <= max_redemptions)
);
-- Codes are case-insensitive.
CREATE UNIQUE INDEX promotion_codes_code ON promotion_codes (lower(code));
CREATE INDEX promotion_codes_coupon ON promotion_codes (coupon_id);

-- One redemption per user per promotion code.
CREATE TABLE redemptions (
    id                UUID        PRIMARY KEY,
    promotion_code_id UUID        NOT NULL REFERENCES promotion_codes (id),
    coupon_id         UUID        NOT NULL REFERENCES coupons (id),
    user_id           UUID        NOT NULL,
    subscription_id   UUID        NOT NULL REFERENCES subscriptions (id),
    redeemed_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (promotion_code_id, user_id)
);

-- The discount a subscription holds (at most one). `once_period_start`: the period a `once`
-- discount was first priced on (its dunning retries are the same period; later ones are not).
CREATE TABLE subscription_discounts (
    subscription_id   UUID        PRIMARY KEY REFERENCES subscriptions (id),
    coupon_id         UUID        NOT NULL REFERENCES coupons (id),
    promotion_code_id UUID        NOT NULL REFERENCES promotion_codes (id),
    code              TEXT        NOT NULL,
    applied_at        TIMESTAMPTZ NOT NULL,
    once_period_start TIMESTAMPTZ
);

-- What a charge took off, for its lines at billing: the charge's `amount` stays what is charged
-- (net); its list price is amount + discount.
CREATE TABLE charge_discounts (
    charge_id   UUID          PRIMARY KEY REFERENCES charges (id),
    coupon_id   UUID          NOT NULL REFERENCES coupons (id),
    description TEXT          NOT NULL,
    amount      NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN')
);

-- A charge discounted to zero (a 100 % coupon, or a remainder below Stripe's minimum, waived) is
-- recorded like any other, settled `succeeded` without a payment: the amount may now be zero.
ALTER TABLE charges DROP CONSTRAINT charges_amount_check;
ALTER TABLE charges ADD CONSTRAINT charges_amount_check CHECK (amount >= 0 AND amount <> 'NaN');
