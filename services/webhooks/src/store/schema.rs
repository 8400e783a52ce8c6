//! Written by hand (the diesel CLI needs libpq). Tables are unqualified: the pool sets
//! `search_path` to the service's schema.

diesel::table! {
    endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        enabled -> Bool,
        secret_sealed -> Bytea,
        previous_secret_sealed -> Nullable<Bytea>,
        previous_secret_expires_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    events (id) {
        id -> Uuid,
        event_type -> Text,
        payload -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Uuid,
        event_type -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    attempts (id) {
        id -> Uuid,
        delivery_id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        attempt -> Int4,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int4>,
        latency_ms -> Int8,
        response_body -> Nullable<Text>,
        error -> Nullable<Text>,
        succeeded -> Bool,
    }
}

diesel::joinable!(deliveries -> endpoints (endpoint_id));
diesel::joinable!(deliveries -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(endpoints, events, deliveries, attempts, erased_users);

diesel::table! {
    erased_users (user_id) {
        user_id -> Uuid,
        erased_at -> Timestamptz,
    }
}
