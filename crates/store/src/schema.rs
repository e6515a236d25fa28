// The diesel schema of every migration in migrations/* (kept in step by hand; both backends share it).
diesel::table! {
    organizations (id) {
        id -> BigInt,
        code -> Text,
        name -> Text,
        utc_offset -> Text,
        locale -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_settings (organization_id, key) {
        organization_id -> BigInt,
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    organization_keys (id) {
        id -> BigInt,
        organization_id -> BigInt,
        purpose -> Text,
        secret_enc -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channels (id) {
        id -> BigInt,
        name -> Text,
        dialect -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    channel_settings (channel_id, key) {
        channel_id -> BigInt,
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    channel_enrolments (channel_id, organization_id) {
        channel_id -> BigInt,
        organization_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    credentials (id) {
        id -> BigInt,
        organization_id -> Nullable<BigInt>,
        channel_id -> Nullable<BigInt>,
        dialect -> Text,
        kind -> Text,
        token_hash -> Nullable<Text>,
        client_id -> Nullable<Text>,
        client_secret_hash -> Nullable<Text>,
        username -> Nullable<Text>,
        secret_enc -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    access_tokens (id) {
        id -> BigInt,
        credential_id -> BigInt,
        token_hash -> Text,
        scope -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    va_prefixes (prefix) {
        prefix -> Text,
        organization_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    collections (id) {
        id -> BigInt,
        organization_id -> BigInt,
        code -> Text,
        name -> Text,
        webhook_url -> Nullable<Text>,
        redirect_url -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    accounts (id) {
        id -> BigInt,
        organization_id -> BigInt,
        code -> Text,
        name -> Text,
        name_latin -> Text,
        first_name -> Text,
        last_name -> Text,
        phone -> Text,
        email -> Text,
        address -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        organization_id -> BigInt,
        title -> Text,
        code -> Text,
        description -> Text,
        price -> Text,
        currency -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    bills (id) {
        id -> BigInt,
        organization_id -> BigInt,
        account_id -> BigInt,
        collection_id -> Nullable<BigInt>,
        public_no -> Text,
        invoice_number -> Text,
        ref1 -> Text,
        ref2 -> Text,
        name -> Text,
        description -> Text,
        currency -> Text,
        billed -> BigInt,
        paid -> BigInt,
        bill_date -> Date,
        due_date -> Nullable<Date>,
        valid_until -> Nullable<Timestamp>,
        rule -> Text,
        rule_minimum -> Nullable<BigInt>,
        status -> Text,
        version -> BigInt,
        source -> Text,
        extra -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    bill_items (id) {
        id -> BigInt,
        bill_id -> BigInt,
        uid -> Text,
        position -> Integer,
        name -> Text,
        quantity -> Text,
        unit_price -> BigInt,
        total -> BigInt,
        product_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    va_numbers (id) {
        id -> BigInt,
        bill_id -> BigInt,
        organization_id -> BigInt,
        prefix -> Text,
        number -> Text,
        position -> Integer,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        uid -> Text,
        organization_id -> BigInt,
        account_id -> Nullable<BigInt>,
        channel -> Text,
        channel_ref -> Text,
        request_hash -> Text,
        method -> Text,
        currency -> Text,
        amount -> BigInt,
        fee -> BigInt,
        credit -> BigInt,
        payer_name -> Text,
        details -> Text,
        paid_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payment_allocations (id) {
        id -> BigInt,
        payment_id -> BigInt,
        bill_id -> BigInt,
        amount -> BigInt,
    }
}

diesel::table! {
    reversals (id) {
        id -> BigInt,
        payment_id -> BigInt,
        channel -> Text,
        channel_ref -> Text,
        request_hash -> Text,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    account_credit_entries (id) {
        id -> BigInt,
        organization_id -> BigInt,
        account_id -> BigInt,
        currency -> Text,
        amount -> BigInt,
        kind -> Text,
        payment_id -> Nullable<BigInt>,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    unapplied_payments (id) {
        id -> BigInt,
        organization_id -> Nullable<BigInt>,
        channel -> Text,
        channel_ref -> Text,
        request_hash -> Text,
        account_code -> Text,
        currency -> Text,
        amount -> BigInt,
        reason -> Text,
        details -> Text,
        status -> Text,
        created_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

// One key per payment reference, posted or unapplied: `scope` is the organization for a
// biller-side channel, 0 otherwise (migration 2026-12-05-000002_reference_keys).
diesel::table! {
    payment_references (id) {
        id -> BigInt,
        channel -> Text,
        scope -> BigInt,
        channel_ref -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    bill_events (id) {
        id -> BigInt,
        bill_id -> BigInt,
        kind -> Text,
        payment_id -> Nullable<BigInt>,
        amount -> Nullable<BigInt>,
        status_after -> Text,
        paid_after -> BigInt,
        details -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_events (id) {
        id -> BigInt,
        uid -> Text,
        organization_id -> BigInt,
        kind -> Text,
        bill_id -> Nullable<BigInt>,
        payment_id -> Nullable<BigInt>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_deliveries (id) {
        id -> BigInt,
        event_id -> BigInt,
        dialect -> Text,
        target_url -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        lock_token -> Nullable<Text>,
        last_error -> Text,
        last_status -> Nullable<Integer>,
        delivered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (id) {
        id -> BigInt,
        scope -> Text,
        key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    postpaid_codes (code) {
        code -> Text,
        channel_id -> BigInt,
        organization_id -> BigInt,
        terminal_id -> BigInt,
        account_id -> BigInt,
        bill_ids -> Text,
        total -> BigInt,
        expires_at -> Timestamp,
        used_by_payment_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        // Migration 000040_postpaid.
        fee -> BigInt,
        payment_type -> Text,
        currency -> Text,
    }
}

diesel::table! {
    auth_nonces (scope, nonce) {
        scope -> Text,
        nonce -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    bill_imports (organization_id, invoice_number) {
        organization_id -> BigInt,
        invoice_number -> Text,
        content_hash -> Text,
        bill_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    console_actions (id) {
        id -> BigInt,
        organization_id -> BigInt,
        user_id -> BigInt,
        email -> Text,
        action -> Text,
        object -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(organization_settings -> organizations (organization_id));
diesel::joinable!(organization_keys -> organizations (organization_id));
diesel::joinable!(channel_settings -> channels (channel_id));
diesel::joinable!(channel_enrolments -> channels (channel_id));
diesel::joinable!(channel_enrolments -> organizations (organization_id));
diesel::joinable!(credentials -> organizations (organization_id));
diesel::joinable!(credentials -> channels (channel_id));
diesel::joinable!(access_tokens -> credentials (credential_id));
diesel::joinable!(va_prefixes -> organizations (organization_id));
diesel::joinable!(collections -> organizations (organization_id));
diesel::joinable!(accounts -> organizations (organization_id));
diesel::joinable!(products -> organizations (organization_id));
diesel::joinable!(bills -> organizations (organization_id));
diesel::joinable!(bills -> accounts (account_id));
diesel::joinable!(bills -> collections (collection_id));
diesel::joinable!(bill_items -> bills (bill_id));
diesel::joinable!(bill_items -> products (product_id));
diesel::joinable!(va_numbers -> bills (bill_id));
diesel::joinable!(va_numbers -> organizations (organization_id));
diesel::joinable!(payments -> organizations (organization_id));
diesel::joinable!(payments -> accounts (account_id));
diesel::joinable!(payment_allocations -> payments (payment_id));
diesel::joinable!(payment_allocations -> bills (bill_id));
diesel::joinable!(reversals -> payments (payment_id));
diesel::joinable!(account_credit_entries -> organizations (organization_id));
diesel::joinable!(account_credit_entries -> accounts (account_id));
diesel::joinable!(account_credit_entries -> payments (payment_id));
diesel::joinable!(unapplied_payments -> organizations (organization_id));
diesel::joinable!(bill_events -> bills (bill_id));
diesel::joinable!(bill_events -> payments (payment_id));
diesel::joinable!(notification_events -> organizations (organization_id));
diesel::joinable!(notification_events -> bills (bill_id));
diesel::joinable!(notification_events -> payments (payment_id));
diesel::joinable!(notification_deliveries -> notification_events (event_id));
diesel::joinable!(postpaid_codes -> channels (channel_id));
diesel::joinable!(postpaid_codes -> organizations (organization_id));
diesel::joinable!(postpaid_codes -> accounts (account_id));
diesel::joinable!(postpaid_codes -> payments (used_by_payment_id));

diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    organization_settings,
    organization_keys,
    channels,
    channel_settings,
    channel_enrolments,
    credentials,
    access_tokens,
    va_prefixes,
    collections,
    accounts,
    products,
    bills,
    bill_items,
    va_numbers,
    payments,
    payment_allocations,
    reversals,
    account_credit_entries,
    unapplied_payments,
    payment_references,
    bill_events,
    notification_events,
    notification_deliveries,
    idempotency_keys,
    postpaid_codes,
    auth_nonces,
    bill_imports,
);
