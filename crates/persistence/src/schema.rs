//! The one diesel schema shared by PostgreSQL and SQLite (`migrations/{postgres,sqlite}`
//! create the same tables). Ids are UUIDv7 text, instants are UTC `Timestamp`s: the types
//! both backends support through `MultiBackend`.
//!
//! Outside this schema: on SQLite, `keys.search_id`, the FTS5 table `keys_grams` (heads),
//! the table `holder_names` and its FTS5 table `holder_grams`, all kept by triggers; on
//! PostgreSQL, the table `key_search` (a key's head), kept by triggers; on both, the
//! functions `keyward_search_grams`, `keyward_search_head` and `keyward_search_holder`
//! behind the search indexes. All are read by `repo::keys` in SQL (decisions 38, 173,
//! 184, 187).

diesel::table! {
    organisations (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        mask_codes_in_lists -> Bool,
        doorcode_length -> Integer,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        org_id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        org_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    developments (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        key_prefix -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        time_zone -> Text,
        audit_interval_days -> Nullable<Integer>,
        last_audit_at -> Nullable<Timestamp>,
        audit_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    key_audits (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        status -> Text,
        expected -> Integer,
        found -> Integer,
        unexpected -> Integer,
        missing -> Integer,
        left_stock -> Integer,
        marked_lost -> Integer,
        started_at -> Timestamp,
        started_by -> Text,
        completed_at -> Nullable<Timestamp>,
        completed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        closed_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    key_audit_lines (audit_id, key_id) {
        audit_id -> Text,
        key_id -> Text,
        org_id -> Text,
        key_ref -> Text,
        outcome -> Text,
        reason -> Nullable<Text>,
        recorded_at -> Nullable<Timestamp>,
        recorded_by -> Nullable<Text>,
    }
}

diesel::table! {
    keys (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        key_ref -> Text,
        ref_prefix -> Nullable<Text>,
        ref_number -> Nullable<BigInt>,
        key_type -> Text,
        label -> Text,
        status -> Text,
        notes -> Nullable<Text>,
        issued_to -> Nullable<Text>,
        issued_to_phone -> Nullable<Text>,
        issued_at -> Nullable<Timestamp>,
        issued_by -> Nullable<Text>,
        purpose -> Nullable<Text>,
        expected_return_at -> Nullable<Timestamp>,
        security_level -> Text,
        brand -> Nullable<Text>,
        key_number -> Nullable<Text>,
        quantity -> Integer,
        access_restrictions -> Nullable<Text>,
        emergency_contact -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_status_change_at -> Nullable<Timestamp>,
        last_status_change_by -> Nullable<Text>,
        version -> Integer,
        search_text -> Text,
        holder_id -> Nullable<Text>,
        return_requested_at -> Nullable<Timestamp>,
        return_claimed_at -> Nullable<Timestamp>,
        holder_phone -> Nullable<Text>,
    }
}

diesel::table! {
    key_movements (id) {
        id -> Text,
        org_id -> Text,
        key_id -> Text,
        at -> Timestamp,
        action -> Text,
        actor_name -> Text,
        issued_to -> Nullable<Text>,
        purpose -> Nullable<Text>,
        expected_return_at -> Nullable<Timestamp>,
        notes -> Nullable<Text>,
        holder_id -> Nullable<Text>,
    }
}

diesel::table! {
    login_failures (email_hash) {
        email_hash -> Text,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_failure_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        org_id -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        summary -> Text,
        changes -> Text,
        seq -> Integer,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    access_codes (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        code_type -> Text,
        label -> Text,
        code_sealed -> Text,
        code_lookup -> Text,
        status -> Text,
        expires_on -> Nullable<Date>,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        search_text -> Text,
        value_version -> Integer,
        rotate_by -> Nullable<Date>,
        rotation_flagged_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    secret_check (id) {
        id -> Integer,
        sealed -> Text,
    }
}

diesel::table! {
    sms_settings (org_id) {
        org_id -> Text,
        account_sid -> Text,
        auth_token_sealed -> Text,
        from_number -> Nullable<Text>,
        messaging_service_sid -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sms_messages (id) {
        id -> Text,
        org_id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        actor_id -> Text,
        actor_name -> Text,
        target_type -> Text,
        target_id -> Text,
        recipient_name -> Text,
        to_e164 -> Text,
        idempotency_key -> Nullable<Text>,
        request_fingerprint -> Text,
        status -> Text,
        provider_message_id -> Nullable<Text>,
        provider_status -> Nullable<Text>,
        provider_error_code -> Nullable<Integer>,
        http_status -> Nullable<Integer>,
        attempts -> Integer,
        segments -> Integer,
        encoding -> Text,
    }
}

diesel::table! {
    sms_daily_usage (org_id, day) {
        org_id -> Text,
        day -> Date,
        sent -> Integer,
    }
}

diesel::table! {
    key_counts (org_id, development_id, status) {
        org_id -> Text,
        development_id -> Text,
        status -> Text,
        n -> Integer,
    }
}

diesel::table! {
    key_due_days (org_id, due_day, development_id) {
        org_id -> Text,
        due_day -> Date,
        development_id -> Text,
        n -> Integer,
    }
}

diesel::table! {
    access_code_counts (org_id, development_id) {
        org_id -> Text,
        development_id -> Text,
        n -> Integer,
    }
}

diesel::table! {
    key_ref_floors (org_id, ref_prefix) {
        org_id -> Text,
        ref_prefix -> Text,
        floor -> BigInt,
    }
}

diesel::table! {
    firms (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        notes -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
        offboarded_at -> Nullable<Timestamp>,
        offboard_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        search_text -> Text,
    }
}

diesel::table! {
    people (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        kind -> Text,
        phone -> Nullable<Text>,
        email -> Nullable<Text>,
        firm_id -> Nullable<Text>,
        development_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        notes -> Nullable<Text>,
        archived_at -> Nullable<Timestamp>,
        offboarded_at -> Nullable<Timestamp>,
        offboard_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        search_text -> Text,
    }
}

diesel::table! {
    access_code_values (code_id, value_version) {
        org_id -> Text,
        code_id -> Text,
        value_version -> Integer,
        started_at -> Timestamp,
        started_by -> Text,
    }
}

diesel::table! {
    code_exposures (id) {
        id -> Text,
        org_id -> Text,
        code_id -> Text,
        value_version -> Integer,
        at -> Timestamp,
        channel -> Text,
        person_id -> Nullable<Text>,
        user_id -> Nullable<Text>,
        name -> Text,
        phone -> Nullable<Text>,
        sms_id -> Nullable<Text>,
        note -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
    }
}

diesel::table! {
    code_rotation_reasons (id) {
        id -> Text,
        org_id -> Text,
        code_id -> Text,
        value_version -> Integer,
        at -> Timestamp,
        kind -> Text,
        person_id -> Nullable<Text>,
        key_id -> Nullable<Text>,
        note -> Nullable<Text>,
        actor_name -> Text,
    }
}

diesel::table! {
    access_code_keys (code_id, key_id) {
        org_id -> Text,
        code_id -> Text,
        key_id -> Text,
    }
}

diesel::table! {
    doors (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        name -> Text,
        kind -> Text,
        notes -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    key_doors (key_id, door_id) {
        org_id -> Text,
        key_id -> Text,
        door_id -> Text,
        key_lost -> Bool,
    }
}

diesel::table! {
    key_door_periods (key_id, door_id, from_at) {
        org_id -> Text,
        key_id -> Text,
        door_id -> Text,
        from_at -> Timestamp,
        to_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    access_code_doors (code_id, door_id) {
        org_id -> Text,
        code_id -> Text,
        door_id -> Text,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        name -> Text,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        doorcode_policy -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        status -> Text,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    grant_doors (grant_id, door_id) {
        org_id -> Text,
        grant_id -> Text,
        door_id -> Text,
        schedule -> Text,
    }
}

diesel::table! {
    grant_people (grant_id, person_id) {
        org_id -> Text,
        grant_id -> Text,
        person_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    doorcodes (id) {
        id -> Text,
        org_id -> Text,
        grant_id -> Text,
        person_id -> Text,
        door_id -> Text,
        code_sealed -> Text,
        code_lookup -> Text,
        status -> Text,
        end_reason -> Nullable<Text>,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    doorcode_exposures (id) {
        id -> Text,
        org_id -> Text,
        doorcode_id -> Text,
        door_id -> Text,
        grant_id -> Text,
        person_id -> Text,
        at -> Timestamp,
        channel -> Text,
        sms_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
    }
}

diesel::table! {
    jobs (id) {
        id -> Text,
        kind -> Text,
        org_id -> Nullable<Text>,
        subject -> Text,
        run_at -> Timestamp,
        state -> Text,
        attempts -> Integer,
        lease_until -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    keycards (id) {
        id -> Text,
        org_id -> Text,
        grant_id -> Text,
        person_id -> Text,
        key_id -> Text,
        status -> Text,
        end_reason -> Nullable<Text>,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(keys -> developments (development_id));
diesel::joinable!(key_audits -> developments (development_id));
diesel::joinable!(key_audit_lines -> key_audits (audit_id));
diesel::joinable!(key_audit_lines -> keys (key_id));
diesel::joinable!(keys -> people (holder_id));
diesel::joinable!(key_reminders -> keys (key_id));
diesel::joinable!(people -> firms (firm_id));
diesel::joinable!(code_exposures -> access_codes (code_id));
diesel::joinable!(access_code_keys -> access_codes (code_id));
diesel::joinable!(doors -> developments (development_id));
diesel::joinable!(key_doors -> doors (door_id));
diesel::joinable!(key_doors -> keys (key_id));
diesel::joinable!(access_code_doors -> doors (door_id));
diesel::joinable!(access_code_doors -> access_codes (code_id));
diesel::joinable!(grants -> developments (development_id));
diesel::joinable!(grant_doors -> grants (grant_id));
diesel::joinable!(grant_doors -> doors (door_id));
diesel::joinable!(grant_people -> grants (grant_id));
diesel::joinable!(grant_people -> people (person_id));
diesel::joinable!(doorcodes -> grants (grant_id));
diesel::joinable!(keycards -> grants (grant_id));
diesel::joinable!(keycards -> keys (key_id));
diesel::table! {
    reminder_settings (org_id) {
        org_id -> Text,
        enabled -> Bool,
        first_after_minutes -> Integer,
        repeat_every_hours -> Integer,
        max_reminders -> Integer,
        escalate_after_hours -> Integer,
        escalate_to_user_ids -> Text,
        escalate_phone -> Nullable<Text>,
        quiet_start -> Nullable<Text>,
        quiet_end -> Nullable<Text>,
        updated_at -> Timestamp,
        max_extend_days -> Integer,
    }
}

diesel::table! {
    sms_opt_outs (org_id, phone) {
        org_id -> Text,
        phone -> Text,
        opted_out_at -> Timestamp,
    }
}

diesel::table! {
    key_reminders (key_id) {
        key_id -> Text,
        org_id -> Text,
        issued_at -> Timestamp,
        due_at -> Timestamp,
        reminders_sent -> Integer,
        last_reminder_at -> Nullable<Timestamp>,
        escalated_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    key_sets (id) {
        id -> Text,
        org_id -> Text,
        development_id -> Text,
        name -> Text,
        state -> Text,
        issued_to -> Nullable<Text>,
        issued_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
    }
}

diesel::table! {
    key_set_members (key_id) {
        key_id -> Text,
        org_id -> Text,
        set_id -> Text,
        missing_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    key_handovers (key_id) {
        key_id -> Text,
        org_id -> Text,
        state -> Text,
        code_hash -> Text,
        phone -> Text,
        expires_at -> Timestamp,
        wrong_tries -> Integer,
        acknowledged_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(key_set_members -> keys (key_id));
diesel::joinable!(key_set_members -> key_sets (set_id));

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    users,
    sessions,
    developments,
    keys,
    key_movements,
    audit_events,
    login_failures,
    access_codes,
    secret_check,
    sms_settings,
    sms_messages,
    sms_daily_usage,
    key_counts,
    key_due_days,
    access_code_counts,
    key_ref_floors,
    firms,
    people,
    access_code_values,
    code_exposures,
    code_rotation_reasons,
    access_code_keys,
    doors,
    key_doors,
    key_door_periods,
    access_code_doors,
    grants,
    grant_doors,
    grant_people,
    doorcodes,
    doorcode_exposures,
    jobs,
    keycards,
    reminder_settings,
    key_reminders,
    key_sets,
    key_set_members,
    key_handovers
);

// Webhooks (issue 14 §3); queried alone, so not in the list above.
diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        org_id -> Text,
        url -> Text,
        events -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret_sealed -> Text,
        last_success_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        org_id -> Text,
        endpoint_id -> Text,
        event -> Text,
        audit_event_id -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        retry_until -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhook_endpoints, webhook_deliveries);
// The audit append asks whether the organisation has an enabled endpoint with the
// chain's head (decision 181).
diesel::allow_tables_to_appear_in_same_query!(audit_events, webhook_endpoints);

// Key audits (issue 13 §4): their lines are read with the keys, and nothing else.
diesel::allow_tables_to_appear_in_same_query!(key_audits, key_audit_lines, keys);
