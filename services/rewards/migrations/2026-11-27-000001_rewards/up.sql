-- Rewards: the token ledger, balances, earning rules, redemptions, leaderboards and friendships.

-- One row per user who ever held tokens. The balance is split in two so that the database itself
-- guarantees a redemption can never make it negative:
--   spendable >= 0 : tokens the user can redeem; a redemption only ever lowers this column.
--   debt      >= 0 : tokens clawed back after they were spent; only a clawback raises it and
--                    every credit repays it first.
-- At most one of them is non-zero, so balance = spendable - debt is the signed ledger sum.
CREATE TABLE token_balances (
    user_id          UUID        PRIMARY KEY,
    spendable        BIGINT      NOT NULL DEFAULT 0 CHECK (spendable >= 0),
    debt             BIGINT      NOT NULL DEFAULT 0 CHECK (debt >= 0),
    balance          BIGINT      GENERATED ALWAYS AS (spendable - debt) STORED,
    -- The global leaderboard score: tokens earned or awarded all time, minus clawbacks.
    -- Redemptions do not lower it.
    lifetime_earned  BIGINT      NOT NULL DEFAULT 0 CHECK (lifetime_earned >= 0),
    -- When the current score was reached: ties rank the earlier first.
    score_reached_at TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CHECK (spendable = 0 OR debt = 0)
);
-- The global board's page order; the LIMIT stops early, so a page never scans the table.
CREATE INDEX token_balances_board ON token_balances (lifetime_earned DESC, score_reached_at, user_id);

-- The append-only ledger: the sum of `amount` per user is their balance.
CREATE TABLE token_transactions (
    id              UUID        PRIMARY KEY,
    user_id         UUID        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('earn', 'award', 'redeem', 'clawback', 'expire')),
    amount          BIGINT      NOT NULL,
    reason          TEXT        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    -- What the entry is about: purchase id, review id, redemption id...
    reference       TEXT,
    -- Who caused it ('marketplace.course.purchased', 'admin', 'redemption', ...) and that source's
    -- id for it: the pair is unique, so a replayed cause never posts twice.
    source          TEXT        NOT NULL,
    idempotency_ref TEXT        NOT NULL,
    -- The earning rule applied (earn entries only).
    rule            TEXT,
    balance_after   BIGINT      NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, idempotency_ref),
    CHECK ((kind IN ('earn', 'award') AND amount > 0) OR (kind IN ('redeem', 'clawback', 'expire') AND amount < 0))
);
CREATE INDEX token_transactions_user ON token_transactions (user_id, created_at DESC, id DESC);

CREATE FUNCTION token_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'token_transactions is append-only: post a compensating entry instead';
END
$$;
CREATE TRIGGER token_transactions_append_only
    BEFORE UPDATE OR DELETE ON token_transactions
    FOR EACH ROW EXECUTE FUNCTION token_transactions_append_only();
CREATE TRIGGER token_transactions_no_truncate
    BEFORE TRUNCATE ON token_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION token_transactions_append_only();

-- Earning rules as data: change an amount or a cap with an UPDATE, no deploy.
CREATE TABLE earning_rules (
    id                TEXT        PRIMARY KEY,
    description       TEXT        NOT NULL,
    -- Tokens per occurrence.
    fixed_tokens      BIGINT      NOT NULL CHECK (fixed_tokens >= 0),
    -- Plus this many per whole unit of `unit_currency` spent (other currencies earn the fixed part
    -- only: a yen is not a dollar).
    tokens_per_unit   BIGINT      NOT NULL DEFAULT 0 CHECK (tokens_per_unit >= 0),
    unit_currency     CHAR(3),
    -- At most this many tokens per user per UTC day from this rule; NULL = no cap.
    daily_cap         BIGINT      CHECK (daily_cap > 0),
    active            BOOLEAN     NOT NULL DEFAULT true,
    CHECK (tokens_per_unit = 0 OR unit_currency IS NOT NULL)
);
INSERT INTO earning_rules (id, description, fixed_tokens, tokens_per_unit, unit_currency, daily_cap) VALUES
    ('course_purchased',     'Course purchased',     10, 1, 'USD', 200),
    ('review_posted',        'Review posted',        5,  0, NULL,  25),
    ('subscription_renewed', 'Subscription renewed', 50, 0, NULL,  50);

-- Tokens granted per user, rule and UTC day, locked while a grant is decided (the daily cap).
CREATE TABLE earning_counters (
    user_id UUID   NOT NULL,
    rule_id TEXT   NOT NULL REFERENCES earning_rules (id),
    day     DATE   NOT NULL,
    tokens  BIGINT NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (user_id, rule_id, day)
);

-- What each purchase earned, so a (partial) refund claws back the matching share.
CREATE TABLE purchase_rewards (
    purchase_id    UUID          PRIMARY KEY,
    user_id        UUID          NOT NULL,
    tokens         BIGINT        NOT NULL CHECK (tokens >= 0),
    -- NULL when the refund arrived before the purchase (nothing is earned afterwards).
    gross          NUMERIC(19,4) CHECK (gross >= 0 AND gross <> 'NaN'),
    currency       CHAR(3),
    refunded       NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <> 'NaN'),
    fully_refunded BOOLEAN       NOT NULL DEFAULT false,
    tokens_clawed  BIGINT        NOT NULL DEFAULT 0 CHECK (tokens_clawed >= 0 AND tokens_clawed <= tokens),
    earned_at      TIMESTAMPTZ   NOT NULL
);

-- Weekly boards: points earned in an ISO week (UTC), maintained with the ledger entry.
CREATE TABLE weekly_scores (
    iso_week   TEXT        NOT NULL CHECK (iso_week ~ '^[0-9]{4}-W[0-9]{2}$'),
    user_id    UUID        NOT NULL,
    score      BIGINT      NOT NULL CHECK (score >= 0),
    reached_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (iso_week, user_id)
);
CREATE INDEX weekly_scores_board ON weekly_scores (iso_week, score DESC, reached_at, user_id);

-- How many users hold each positive score on each board ('global', 'week:2026-W48'), maintained
-- in the ledger's transaction. A rank is 1 + the users on higher scores: a sum over the distinct
-- scores above, never a count over the users.
CREATE TABLE score_histogram (
    board TEXT   NOT NULL,
    score BIGINT NOT NULL CHECK (score > 0),
    users BIGINT NOT NULL CHECK (users >= 0),
    PRIMARY KEY (board, score)
);

-- What tokens buy.
CREATE TABLE catalog_items (
    item             TEXT          PRIMARY KEY,
    title            TEXT          NOT NULL,
    cost             BIGINT        NOT NULL CHECK (cost > 0),
    -- course_voucher: the discount the voucher is worth.
    voucher_discount NUMERIC(19,4) CHECK (voucher_discount > 0 AND voucher_discount <> 'NaN'),
    voucher_currency CHAR(3),
    active           BOOLEAN       NOT NULL DEFAULT true,
    CHECK ((voucher_discount IS NULL) = (voucher_currency IS NULL))
);
INSERT INTO catalog_items (item, title, cost, voucher_discount, voucher_currency) VALUES
    ('pro_month',      'One month of Pro',             1000, NULL, NULL),
    ('course_voucher', 'A 5.00 USD course voucher',    300,  5.00, 'USD');

CREATE TABLE redemptions (
    id             UUID        PRIMARY KEY,
    user_id        UUID        NOT NULL,
    item           TEXT        NOT NULL REFERENCES catalog_items (item),
    cost           BIGINT      NOT NULL CHECK (cost > 0),
    transaction_id UUID        NOT NULL UNIQUE REFERENCES token_transactions (id),
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX redemptions_user ON redemptions (user_id, created_at DESC);

-- Single-use course vouchers; consuming one is marketplace's later issue.
CREATE TABLE vouchers (
    code          TEXT          PRIMARY KEY,
    redemption_id UUID          NOT NULL UNIQUE REFERENCES redemptions (id),
    user_id       UUID          NOT NULL,
    discount      NUMERIC(19,4) NOT NULL CHECK (discount > 0 AND discount <> 'NaN'),
    currency      CHAR(3)       NOT NULL,
    status        TEXT          NOT NULL CHECK (status IN ('issued', 'consumed', 'expired')),
    issued_at     TIMESTAMPTZ   NOT NULL,
    expires_at    TIMESTAMPTZ   NOT NULL,
    consumed_at   TIMESTAMPTZ,
    CHECK ((status = 'consumed') = (consumed_at IS NOT NULL))
);
CREATE INDEX vouchers_user ON vouchers (user_id);

-- Every admin award, with who gave it.
CREATE TABLE award_audit (
    id              UUID        PRIMARY KEY,
    admin_id        TEXT        NOT NULL,
    user_id         UUID        NOT NULL,
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    reason          TEXT        NOT NULL,
    transaction_id  UUID        NOT NULL UNIQUE REFERENCES token_transactions (id),
    idempotency_key TEXT        NOT NULL,
    request_id      TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX award_audit_user ON award_audit (user_id, created_at DESC);

-- Names shown on leaderboards (optional).
CREATE TABLE profiles (
    user_id      UUID        PRIMARY KEY,
    display_name TEXT        CHECK (length(display_name) BETWEEN 1 AND 50),
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Friend requests; an accepted one becomes two `friendships` rows (one per direction).
CREATE TABLE friend_requests (
    requester_id UUID        NOT NULL,
    addressee_id UUID        NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('pending', 'accepted', 'declined')),
    created_at   TIMESTAMPTZ NOT NULL,
    responded_at TIMESTAMPTZ,
    PRIMARY KEY (requester_id, addressee_id),
    CHECK (requester_id <> addressee_id)
);
CREATE INDEX friend_requests_addressee ON friend_requests (addressee_id, status);

CREATE TABLE friendships (
    user_id   UUID        NOT NULL,
    friend_id UUID        NOT NULL,
    since     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, friend_id),
    CHECK (user_id <> friend_id)
);
