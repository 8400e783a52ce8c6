-- The customer's saved cards (issue 20, point 4). `customers.default_payment_method` stays the one
-- place that says which card renewals charge; this table lists every card the customer saved, so
-- the default is always one of these rows. Erasure deletes the customer row, and these with it.
CREATE TABLE payment_methods (
    id                       UUID        PRIMARY KEY,
    user_id                  UUID        NOT NULL REFERENCES customers (user_id) ON DELETE CASCADE,
    stripe_payment_method_id TEXT        NOT NULL UNIQUE,
    brand                    TEXT        NOT NULL,
    last4                    TEXT        NOT NULL,
    exp_month                INT         CHECK (exp_month BETWEEN 1 AND 12),
    exp_year                 INT,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_user ON payment_methods (user_id, created_at DESC);
