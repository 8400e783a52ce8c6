//! Written by hand (the diesel CLI needs libpq). Tables are unqualified: the pool sets
//! `search_path` to the service's schema. `courses.search` (tsvector) is left out: only the raw
//! SQL of the catalogue query reads it, and a trigger writes it.

diesel::table! {
    courses (id) {
        id -> Uuid,
        instructor_id -> Uuid,
        title -> Text,
        description -> Text,
        category -> Text,
        level -> Text,
        language -> Text,
        tags -> Array<Text>,
        price -> Numeric,
        currency -> Bpchar,
        status -> Text,
        content_key -> Text,
        content_type -> Text,
        content_size -> Int8,
        content_sha256 -> Text,
        content_filename -> Text,
        rating_count -> Int4,
        rating_sum -> Int8,
        rating_avg -> Numeric,
        purchase_count -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    course_purchase_deltas (id) {
        id -> Int8,
        course_id -> Uuid,
        delta -> Int4,
    }
}

diesel::table! {
    purchases (id) {
        id -> Uuid,
        course_id -> Uuid,
        buyer_id -> Uuid,
        instructor_id -> Uuid,
        price -> Numeric,
        currency -> Bpchar,
        status -> Text,
        payment_id -> Nullable<Uuid>,
        client_secret -> Nullable<Text>,
        failure_code -> Nullable<Text>,
        split_rate -> Numeric,
        instructor_share -> Nullable<Numeric>,
        platform_share -> Nullable<Numeric>,
        refunded_amount -> Numeric,
        instructor_reversed -> Numeric,
        platform_reversed -> Numeric,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        closed_reason -> Nullable<Text>,
        voucher_code_prefix -> Nullable<Text>,
        discount -> Numeric,
        /// Generated (price - discount): never written.
        amount_paid -> Numeric,
        voucher_reserved_at -> Nullable<Timestamptz>,
        voucher_released_at -> Nullable<Timestamptz>,
        // `expiry_attempted_at` is left out: only the raw SQL of `purchases::claim_expired` uses it,
        // and diesel is built for tables of at most 32 columns.
        test_clock_id -> Nullable<Uuid>,
        net_amount -> Nullable<Numeric>,
        tax -> Numeric,
        promotion_code_id -> Nullable<Uuid>,
        promotion_code -> Nullable<Text>,
        promotion_funded_by -> Nullable<Text>,
        promotion_released_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    payouts (id) {
        id -> Uuid,
        instructor_id -> Uuid,
        amount -> Numeric,
        currency -> Bpchar,
        status -> Text,
        requested_at -> Timestamptz,
        paid_at -> Nullable<Timestamptz>,
        paid_by -> Nullable<Text>,
    }
}

diesel::table! {
    earnings (id) {
        id -> Uuid,
        instructor_id -> Uuid,
        purchase_id -> Uuid,
        course_id -> Uuid,
        kind -> Text,
        amount -> Numeric,
        currency -> Bpchar,
        status -> Text,
        available_at -> Timestamptz,
        payout_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reviews (id) {
        id -> Uuid,
        course_id -> Uuid,
        user_id -> Uuid,
        rating -> Int2,
        body -> Text,
        helpful_count -> Int4,
        reply -> Nullable<Text>,
        replied_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    review_votes (review_id, user_id) {
        review_id -> Uuid,
        user_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(purchases -> courses (course_id));
diesel::joinable!(reviews -> courses (course_id));
diesel::allow_tables_to_appear_in_same_query!(courses, purchases, payouts, earnings, reviews, review_votes);

diesel::table! {
    sales_ledger (id) {
        id -> Uuid,
        purchase_id -> Uuid,
        course_id -> Uuid,
        instructor_id -> Uuid,
        kind -> Text,
        gross -> Numeric,
        instructor_amount -> Numeric,
        platform_amount -> Numeric,
        discount -> Numeric,
        currency -> Bpchar,
        occurred_at -> Timestamptz,
        tax -> Numeric,
    }
}

diesel::table! {
    course_prices (course_id, currency) {
        course_id -> Uuid,
        currency -> Bpchar,
        price -> Numeric,
    }
}

diesel::table! {
    promotion_codes (id) {
        id -> Uuid,
        code -> Text,
        funded_by -> Text,
        instructor_id -> Nullable<Uuid>,
        percent_off -> Nullable<Numeric>,
        course_ids -> Nullable<Array<Uuid>>,
        categories -> Nullable<Array<Text>>,
        max_redemptions -> Nullable<Int4>,
        redeemed -> Int4,
        expires_at -> Nullable<Timestamptz>,
        first_purchase_only -> Bool,
        active -> Bool,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    promotion_code_amounts (promotion_code_id, currency) {
        promotion_code_id -> Uuid,
        currency -> Bpchar,
        amount -> Numeric,
    }
}
