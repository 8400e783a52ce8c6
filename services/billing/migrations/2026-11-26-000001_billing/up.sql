-- Stripe customers: one per user, created on first payment.
CREATE TABLE customers (
    user_id            UUID        PRIMARY KEY,
    stripe_customer_id TEXT        NOT NULL UNIQUE,
    -- The card of the last successful payment: what renewals charge off-session.
    default_payment_method TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One payment = one Stripe PaymentIntent. `status` mirrors the PaymentIntent's status.
CREATE TABLE payments (
    id                       UUID          PRIMARY KEY,
    user_id                  UUID          NOT NULL,
    amount                   NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN'),
    currency                 CHAR(3)       NOT NULL,
    purpose                  TEXT          NOT NULL CHECK (purpose IN ('course_purchase', 'subscription', 'license')),
    reference_id             TEXT          NOT NULL,
    description              TEXT          NOT NULL,
    status                   TEXT          NOT NULL CHECK (status IN ('requires_payment_method', 'requires_confirmation',
                                 'requires_action', 'processing', 'requires_capture', 'canceled', 'succeeded')),
    stripe_payment_intent_id TEXT          NOT NULL UNIQUE,
    client_secret            TEXT,
    latest_charge_id         TEXT,
    card_brand               TEXT,
    card_last4               TEXT,
    failure_code             TEXT,
    failure_message          TEXT,
    -- Refunds Stripe has confirmed (charge.refunded); never more than the amount.
    amount_refunded          NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
    receipt_number           TEXT          UNIQUE,
    succeeded_at             TIMESTAMPTZ,
    created_at               TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ   NOT NULL DEFAULT now(),
    -- A receipt exists exactly when the money was captured.
    CHECK ((status = 'succeeded') = (receipt_number IS NOT NULL))
);
CREATE INDEX payments_user ON payments (user_id, created_at DESC);
CREATE INDEX payments_reference ON payments (purpose, reference_id);

-- Refunds as requested through the API; `status` mirrors Stripe's refund status.
CREATE TABLE refunds (
    id               UUID          PRIMARY KEY,
    payment_id       UUID          NOT NULL REFERENCES payments (id),
    amount           NUMERIC(19,4) NOT NULL CHECK (amount > 0 AND amount <> 'NaN'),
    currency         CHAR(3)       NOT NULL,
    reason           TEXT          NOT NULL CHECK (reason IN ('duplicate', 'fraudulent', 'requested_by_customer')),
    status           TEXT          NOT NULL CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
    stripe_refund_id TEXT          NOT NULL UNIQUE,
    requested_by     TEXT          NOT NULL,
    created_at       TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Gap-free receipt numbers per year: the counter row is locked and bumped in the transaction
-- that marks the payment succeeded, so a rollback gives its number back.
CREATE TABLE receipt_counters (
    year       INT    PRIMARY KEY,
    last_value BIGINT NOT NULL
);

-- What the user sees as their billing history: one line per charge and per refund.
CREATE TABLE billing_history (
    id          UUID          PRIMARY KEY,
    user_id     UUID          NOT NULL,
    payment_id  UUID          NOT NULL REFERENCES payments (id),
    refund_id   UUID          REFERENCES refunds (id),
    kind        TEXT          NOT NULL CHECK (kind IN ('charge', 'refund')),
    amount      NUMERIC(19,4) NOT NULL,
    currency    CHAR(3)       NOT NULL,
    description TEXT          NOT NULL,
    occurred_at TIMESTAMPTZ   NOT NULL DEFAULT now(),
    UNIQUE (payment_id, kind, refund_id)
);
CREATE UNIQUE INDEX billing_history_one_charge ON billing_history (payment_id) WHERE kind = 'charge';
CREATE INDEX billing_history_user ON billing_history (user_id, occurred_at DESC, id DESC);

-- Stripe webhook events already applied (Stripe retries and may send duplicates).
CREATE TABLE stripe_events (
    id          TEXT        PRIMARY KEY,
    type        TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
