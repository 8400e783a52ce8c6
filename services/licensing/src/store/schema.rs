//! Written by hand (the diesel CLI needs libpq). Tables are unqualified: the pool sets
//! `search_path` to the service's schema.

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        domain -> Text,
        business_time_zone -> Text,
        business_start_minute -> Int4,
        business_end_minute -> Int4,
        business_days -> Int2,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    branding (organization_id) {
        organization_id -> Uuid,
        display_name -> Text,
        logo_url -> Nullable<Text>,
        primary_color -> Nullable<Text>,
        secondary_color -> Nullable<Text>,
        support_email -> Nullable<Text>,
        custom_domain -> Nullable<Text>,
        updated_at -> Timestamptz,
        pending_custom_domain -> Nullable<Text>,
        custom_domain_token -> Nullable<Text>,
        custom_domain_verified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tiers (tier) {
        tier -> Text,
        description -> Text,
    }
}

diesel::table! {
    sla_policies (tier, priority) {
        tier -> Text,
        priority -> Text,
        first_response_minutes -> Int4,
        resolution_minutes -> Int4,
        business_hours -> Bool,
    }
}

diesel::table! {
    licenses (id) {
        id -> Uuid,
        organization_id -> Uuid,
        license_key_hash -> Bytea,
        license_key_prefix -> Text,
        tier -> Text,
        seats -> Int4,
        seats_used -> Int4,
        peak_seats_used -> Int4,
        alert_level -> Int2,
        status -> Text,
        starts_at -> Timestamptz,
        expires_at -> Timestamptz,
        status_reason -> Nullable<Text>,
        status_changed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        license_version -> Int8,
        test_clock_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    seats (id) {
        id -> Uuid,
        license_id -> Uuid,
        user_id -> Uuid,
        seat_number -> Int4,
        activated_at -> Timestamptz,
        released_at -> Nullable<Timestamptz>,
        release_reason -> Nullable<Text>,
    }
}

diesel::table! {
    usage_events (id) {
        id -> Int8,
        license_id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        reason -> Nullable<Text>,
        seats_used -> Int4,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    usage_daily (license_id, day) {
        license_id -> Uuid,
        day -> Date,
        seats_used -> Int4,
        peak -> Int4,
    }
}

diesel::table! {
    usage_alerts (id) {
        id -> Int8,
        license_id -> Uuid,
        threshold -> Int2,
        seats -> Int4,
        seats_used -> Int4,
        reached_at -> Timestamptz,
    }
}

diesel::table! {
    tickets (id) {
        id -> Uuid,
        organization_id -> Uuid,
        license_id -> Uuid,
        created_by -> Uuid,
        subject -> Text,
        description -> Text,
        priority -> Text,
        status -> Text,
        tier -> Text,
        first_response_minutes -> Int4,
        resolution_minutes -> Int4,
        business_hours -> Bool,
        time_zone -> Text,
        business_start_minute -> Int4,
        business_end_minute -> Int4,
        business_days -> Int2,
        first_response_at -> Nullable<Timestamptz>,
        resolved_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        first_response_due_at -> Nullable<Timestamptz>,
        resolution_due_at -> Nullable<Timestamptz>,
        first_response_breached_at -> Nullable<Timestamptz>,
        resolution_breached_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    ticket_pauses (id) {
        id -> Int8,
        ticket_id -> Uuid,
        started_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    ticket_comments (id) {
        id -> Uuid,
        ticket_id -> Uuid,
        author_id -> Uuid,
        author_role -> Text,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(branding -> organizations (organization_id));
diesel::joinable!(licenses -> organizations (organization_id));
diesel::joinable!(seats -> licenses (license_id));
diesel::allow_tables_to_appear_in_same_query!(organizations, branding, licenses, seats);
diesel::allow_tables_to_appear_in_same_query!(tickets, licenses);
