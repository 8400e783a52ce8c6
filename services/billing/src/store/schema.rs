//! Written by hand (the diesel CLI needs libpq). Tables are unqualified: each service's pool sets
//! `search_path` to its own schema.

diesel::table! {
    customers (user_id) {
        user_id -> Uuid,
        stripe_customer_id -> Text,
        default_payment_method -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        user_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        purpose -> Text,
        reference_id -> Text,
        description -> Text,
        status -> Text,
        stripe_payment_intent_id -> Text,
        client_secret -> Nullable<Text>,
        latest_charge_id -> Nullable<Text>,
        card_brand -> Nullable<Text>,
        card_last4 -> Nullable<Text>,
        failure_code -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        amount_refunded -> Numeric,
        receipt_number -> Nullable<Text>,
        succeeded_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        review_flag -> Nullable<Text>,
        review_detail -> Nullable<Text>,
        reconciled_at -> Nullable<Timestamptz>,
        traceparent -> Nullable<Text>,
        tax_amount -> Numeric,
        tax -> Nullable<Jsonb>,
        tax_country -> Nullable<Bpchar>,
        lines -> Jsonb,
        billed_to -> Nullable<Jsonb>,
        seller -> Nullable<Jsonb>,
    }
}

diesel::table! {
    refunds (id) {
        id -> Uuid,
        payment_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        reason -> Text,
        status -> Text,
        stripe_refund_id -> Nullable<Text>,
        requested_by -> Text,
        created_at -> Timestamptz,
        request_key -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        updated_at -> Timestamptz,
        announced -> Bool,
        reconciled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    receipt_counters (series, year) {
        year -> Int4,
        last_value -> Int8,
        series -> Text,
    }
}

diesel::table! {
    billing_history (id) {
        id -> Uuid,
        user_id -> Uuid,
        payment_id -> Uuid,
        refund_id -> Nullable<Uuid>,
        kind -> Text,
        amount -> Numeric,
        currency -> Bpchar,
        description -> Text,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    stripe_events (id) {
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    payment_outcomes (id) {
        id -> Int8,
        payment_id -> Uuid,
        kind -> Text,
        attempt -> Nullable<Int4>,
        purpose -> Text,
        currency -> Bpchar,
        amount -> Numeric,
        decline_code -> Nullable<Text>,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    billing_details (user_id) {
        user_id -> Uuid,
        name -> Text,
        company -> Nullable<Text>,
        line1 -> Text,
        line2 -> Nullable<Text>,
        city -> Text,
        postal_code -> Nullable<Text>,
        region -> Nullable<Text>,
        country -> Bpchar,
        vat_id -> Nullable<Text>,
        business -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tax_rates (id) {
        id -> Uuid,
        country -> Bpchar,
        region -> Nullable<Text>,
        percentage -> Numeric,
        inclusive -> Bool,
        display_name -> Text,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    invoices (id) {
        id -> Uuid,
        number -> Text,
        payment_id -> Uuid,
        user_id -> Uuid,
        currency -> Bpchar,
        subtotal -> Numeric,
        tax_amount -> Numeric,
        total -> Numeric,
        document -> Jsonb,
        issued_at -> Timestamptz,
    }
}

diesel::table! {
    credit_notes (id) {
        id -> Uuid,
        number -> Text,
        invoice_id -> Uuid,
        refund_id -> Uuid,
        user_id -> Uuid,
        currency -> Bpchar,
        subtotal -> Numeric,
        tax_amount -> Numeric,
        total -> Numeric,
        document -> Jsonb,
        issued_at -> Timestamptz,
    }
}

diesel::table! {
    payment_methods (id) {
        id -> Uuid,
        user_id -> Uuid,
        stripe_payment_method_id -> Text,
        brand -> Text,
        last4 -> Text,
        exp_month -> Nullable<Int4>,
        exp_year -> Nullable<Int4>,
        created_at -> Timestamptz,
    }
}
