//! Written by hand (the diesel CLI needs libpq). Tables are unqualified: each service's pool sets
//! `search_path` to its own schema.

diesel::table! {
    token_balances (user_id) {
        user_id -> Uuid,
        spendable -> Int8,
        debt -> Int8,
        /// Generated (spendable - debt): never written.
        balance -> Int8,
        lifetime_earned -> Int8,
        score_reached_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    token_transactions (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        amount -> Int8,
        reason -> Text,
        reference -> Nullable<Text>,
        source -> Text,
        idempotency_ref -> Text,
        rule -> Nullable<Text>,
        balance_after -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    earning_rules (id) {
        id -> Text,
        description -> Text,
        fixed_tokens -> Int8,
        tokens_per_unit -> Int8,
        unit_currency -> Nullable<Bpchar>,
        daily_cap -> Nullable<Int8>,
        active -> Bool,
    }
}

diesel::table! {
    earning_counters (user_id, rule_id, day) {
        user_id -> Uuid,
        rule_id -> Text,
        day -> Date,
        tokens -> Int8,
    }
}

diesel::table! {
    purchase_rewards (purchase_id) {
        purchase_id -> Uuid,
        user_id -> Uuid,
        tokens -> Int8,
        gross -> Nullable<Numeric>,
        currency -> Nullable<Bpchar>,
        refunded -> Numeric,
        fully_refunded -> Bool,
        tokens_clawed -> Int8,
        earned_at -> Timestamptz,
    }
}

diesel::table! {
    weekly_scores (iso_week, user_id) {
        iso_week -> Text,
        user_id -> Uuid,
        score -> Int8,
        reached_at -> Timestamptz,
    }
}

diesel::table! {
    score_histogram (board, score) {
        board -> Text,
        score -> Int8,
        users -> Int8,
    }
}

diesel::table! {
    score_histogram_deltas (id) {
        id -> Int8,
        board -> Text,
        score -> Int8,
        delta -> Int4,
    }
}

diesel::table! {
    catalog_items (item) {
        item -> Text,
        title -> Text,
        cost -> Int8,
        voucher_discount -> Nullable<Numeric>,
        voucher_currency -> Nullable<Bpchar>,
        active -> Bool,
        value -> Nullable<Numeric>,
        value_currency -> Nullable<Bpchar>,
    }
}

diesel::table! {
    redemptions (id) {
        id -> Uuid,
        user_id -> Uuid,
        item -> Text,
        cost -> Int8,
        transaction_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    vouchers (redemption_id) {
        redemption_id -> Uuid,
        code_hash -> Bytea,
        code_prefix -> Text,
        user_id -> Uuid,
        discount -> Numeric,
        currency -> Bpchar,
        status -> Text,
        issued_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
        purchase_id -> Nullable<Uuid>,
        reserved_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> Uuid,
        display_name -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    friend_requests (requester_id, addressee_id) {
        requester_id -> Uuid,
        addressee_id -> Uuid,
        status -> Text,
        created_at -> Timestamptz,
        responded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    friendships (user_id, friend_id) {
        user_id -> Uuid,
        friend_id -> Uuid,
        since -> Timestamptz,
    }
}

diesel::table! {
    erasure_requests (id) {
        id -> Uuid,
        user_id -> Uuid,
        origin -> Text,
        requested_by -> Text,
        requested_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    erasure_confirmations (erasure_id, service) {
        erasure_id -> Uuid,
        service -> Text,
        erased_at -> Timestamptz,
        received_at -> Timestamptz,
    }
}
