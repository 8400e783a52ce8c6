-- Requests from marketplace and subscriptions to give up a payment they will never use
-- (`*.payment.void_requested.v1`). One per payment: duplicates of the request change nothing.
-- No foreign key to payments: a request naming a payment billing never created is kept (state
-- `failed`) so an operator can see it, rather than dropped.
CREATE TABLE payment_voids (
    payment_id        UUID        PRIMARY KEY,
    -- The requester's snake_case code (`purchase_expired`, `subscription_canceled`, ...).
    reason            TEXT        NOT NULL,
    source_event_type TEXT        NOT NULL,
    source_event_id   UUID        NOT NULL,
    requested_at      TIMESTAMPTZ NOT NULL,
    -- pending: the worker looks at the PaymentIntent next; canceled: the intent was canceled before
    -- any money moved; refund_requested: Stripe accepted the refund but has not settled it;
    -- done: refunded (or nothing was left to refund); failed: needs a person (last_error says why).
    state             TEXT        NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'canceled', 'refund_requested', 'done', 'failed')),
    refund_id         UUID        REFERENCES refunds (id),
    attempts          INT         NOT NULL DEFAULT 0,
    last_error        TEXT,
    next_attempt_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payment_voids_due ON payment_voids (next_attempt_at) WHERE state IN ('pending', 'refund_requested');

