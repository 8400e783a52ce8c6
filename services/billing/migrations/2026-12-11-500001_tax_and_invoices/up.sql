-- Issue 20, points 5 and 6: the customer's billing details, admin tax rates, the tax of each
-- payment, invoices and credit notes.

-- What the customer sets for their invoices (and what tax is computed from). Personal data:
-- listed in privacy.rs, deleted on erasure (issued invoices keep their own snapshot).
CREATE TABLE billing_details (
    user_id     UUID        PRIMARY KEY,
    name        TEXT        NOT NULL,
    company     TEXT,
    line1       TEXT        NOT NULL,
    line2       TEXT,
    city        TEXT        NOT NULL,
    postal_code TEXT,
    region      TEXT,
    country     CHAR(2)     NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    vat_id      TEXT,
    business    BOOLEAN     NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Admin-defined rates; deactivated, never deleted (payments name the rate they used).
CREATE TABLE tax_rates (
    id           UUID         PRIMARY KEY,
    country      CHAR(2)      NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    region       TEXT,
    percentage   NUMERIC(7,4) NOT NULL CHECK (percentage >= 0 AND percentage < 100),
    inclusive    BOOLEAN      NOT NULL,
    display_name TEXT         NOT NULL,
    active       BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now()
);
-- One active rate per place, so the rate a payment gets is never ambiguous.
CREATE UNIQUE INDEX tax_rates_one_active ON tax_rates (country, COALESCE(region, '')) WHERE active;

-- A payment's tax, decided at its creation. `amount` stays what Stripe charges (tax included);
-- the net (revenue) is `amount - tax_amount`.
ALTER TABLE payments
    ADD COLUMN tax_amount     NUMERIC(19,4) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
    -- {rate_id, name, percentage, inclusive, country, region, reverse_charge}: null when untaxed.
    ADD COLUMN tax            JSONB,
    ADD COLUMN tax_country    CHAR(2),
    -- The caller's lines (net); empty: one line of `description`.
    ADD COLUMN lines          JSONB NOT NULL DEFAULT '[]',
    -- The billing details the tax was computed from, printed on the invoice.
    ADD COLUMN billed_to      JSONB,
    -- The seller as configured then, printed on the invoice.
    ADD COLUMN seller         JSONB;

-- Receipt numbers' gap-free counter now serves every document series (RCPT, INV, CN): one
-- mechanism, one counter row per series and year.
ALTER TABLE receipt_counters ADD COLUMN series TEXT NOT NULL DEFAULT 'RCPT';
ALTER TABLE receipt_counters DROP CONSTRAINT receipt_counters_pkey;
ALTER TABLE receipt_counters ADD PRIMARY KEY (series, year);

-- One invoice per succeeded payment; the document is frozen at issue.
CREATE TABLE invoices (
    id         UUID          PRIMARY KEY,
    number     TEXT          NOT NULL UNIQUE,
    payment_id UUID          NOT NULL UNIQUE REFERENCES payments (id),
    user_id    UUID          NOT NULL,
    currency   CHAR(3)       NOT NULL,
    subtotal   NUMERIC(19,4) NOT NULL,
    tax_amount NUMERIC(19,4) NOT NULL,
    total      NUMERIC(19,4) NOT NULL CHECK (total = subtotal + tax_amount),
    document   JSONB         NOT NULL,
    issued_at  TIMESTAMPTZ   NOT NULL
);
CREATE INDEX invoices_by_user ON invoices (user_id, issued_at DESC, id DESC);

-- One credit note per confirmed refund, against the payment's invoice.
CREATE TABLE credit_notes (
    id         UUID          PRIMARY KEY,
    number     TEXT          NOT NULL UNIQUE,
    invoice_id UUID          NOT NULL REFERENCES invoices (id),
    refund_id  UUID          NOT NULL UNIQUE REFERENCES refunds (id),
    user_id    UUID          NOT NULL,
    currency   CHAR(3)       NOT NULL,
    subtotal   NUMERIC(19,4) NOT NULL,
    tax_amount NUMERIC(19,4) NOT NULL,
    total      NUMERIC(19,4) NOT NULL CHECK (total = subtotal + tax_amount),
    document   JSONB         NOT NULL,
    issued_at  TIMESTAMPTZ   NOT NULL
);
CREATE INDEX credit_notes_by_user ON credit_notes (user_id, issued_at DESC, id DESC);
