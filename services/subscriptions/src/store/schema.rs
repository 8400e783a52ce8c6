//! Written by hand (the diesel CLI needs libpq); unqualified, the pool's search_path picks the schema.

diesel::table! {
    tiers (code) {
        code -> Text,
        name -> Text,
        price -> Numeric,
        currency -> Bpchar,
        rank -> Int4,
        trial_days -> Int4,
        trial_mode -> Text,
    }
}

diesel::table! {
    tier_prices (tier, currency) {
        tier -> Text,
        currency -> Bpchar,
        price -> Numeric,
    }
}

diesel::table! {
    tier_features (tier, feature) {
        tier -> Text,
        feature -> Text,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Uuid,
        user_id -> Uuid,
        tier -> Text,
        status -> Text,
        anchor_day -> Int4,
        current_period_start -> Nullable<Timestamptz>,
        current_period_end -> Nullable<Timestamptz>,
        cancel_at_period_end -> Bool,
        pending_tier -> Nullable<Text>,
        first_payment_deadline -> Timestamptz,
        past_due_since -> Nullable<Timestamptz>,
        dunning_attempts -> Int4,
        next_retry_at -> Nullable<Timestamptz>,
        canceled_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        renewal_claimed_until -> Nullable<Timestamptz>,
        pause_periods -> Nullable<Int4>,
        pause_starts_at -> Nullable<Timestamptz>,
        pause_resumes_at -> Nullable<Timestamptz>,
        currency -> Bpchar,
        trial_end -> Nullable<Timestamptz>,
        trial_will_end_sent -> Bool,
        test_clock_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    charges (id) {
        id -> Uuid,
        subscription_id -> Uuid,
        kind -> Text,
        tier -> Text,
        amount -> Numeric,
        currency -> Bpchar,
        payment_id -> Nullable<Uuid>,
        status -> Text,
        created_at -> Timestamptz,
        period_end -> Nullable<Timestamptz>,
        void_reason -> Nullable<Text>,
        proration_credit -> Nullable<Numeric>,
    }
}

diesel::table! {
    grants (id) {
        id -> Uuid,
        user_id -> Uuid,
        source -> Text,
        tier -> Text,
        reference -> Text,
        starts_at -> Timestamptz,
        ends_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        version -> Int8,
    }
}

diesel::table! {
    licenses (license_id) {
        license_id -> Text,
        status -> Text,
        status_version -> Int8,
        expires_at -> Nullable<Timestamptz>,
        expires_version -> Int8,
    }
}
diesel::table! {
    mrr_movements (id) {
        id -> Int8,
        subscription_id -> Uuid,
        user_id -> Uuid,
        occurred_at -> Timestamptz,
        currency -> Bpchar,
        mrr_before -> Numeric,
        mrr_after -> Numeric,
        kind -> Nullable<Text>,
        tier_before -> Nullable<Text>,
        status_before -> Nullable<Text>,
        tier_after -> Nullable<Text>,
        status_after -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(grants, tiers, licenses);

diesel::table! {
    coupons (id) {
        id -> Uuid,
        name -> Text,
        percent_off -> Nullable<Numeric>,
        duration -> Text,
        duration_in_months -> Nullable<Int4>,
        tiers -> Nullable<Array<Text>>,
        max_redemptions -> Nullable<Int4>,
        redeemed -> Int4,
        expires_at -> Nullable<Timestamptz>,
        first_purchase_only -> Bool,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    coupon_amounts (coupon_id, currency) {
        coupon_id -> Uuid,
        currency -> Bpchar,
        amount -> Numeric,
    }
}

diesel::table! {
    promotion_codes (id) {
        id -> Uuid,
        coupon_id -> Uuid,
        code -> Text,
        max_redemptions -> Nullable<Int4>,
        redeemed -> Int4,
        expires_at -> Nullable<Timestamptz>,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    redemptions (id) {
        id -> Uuid,
        promotion_code_id -> Uuid,
        coupon_id -> Uuid,
        user_id -> Uuid,
        subscription_id -> Uuid,
        redeemed_at -> Timestamptz,
    }
}

diesel::table! {
    subscription_discounts (subscription_id) {
        subscription_id -> Uuid,
        coupon_id -> Uuid,
        promotion_code_id -> Uuid,
        code -> Text,
        applied_at -> Timestamptz,
        once_period_start -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    charge_discounts (charge_id) {
        charge_id -> Uuid,
        coupon_id -> Uuid,
        description -> Text,
        amount -> Numeric,
    }
}

diesel::allow_tables_to_appear_in_same_query!(charges, subscriptions);

diesel::table! {
    trial_claims (user_id, tier) {
        user_id -> Uuid,
        tier -> Text,
        subscription_id -> Uuid,
        claimed_at -> Timestamptz,
    }
}

diesel::table! {
    /// The shared `test_clocks(id, now, updated_at)` plus this service's columns: it owns the clocks.
    test_clocks (id) {
        id -> Uuid,
        owner_id -> Uuid,
        now -> Timestamptz,
        updated_at -> Timestamptz,
        name -> Text,
        frozen_time -> Timestamptz,
        status -> Text,
        created_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}
