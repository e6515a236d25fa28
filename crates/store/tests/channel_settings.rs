//! Channel settings in the store (`channel_settings` table): typed, validated per dialect,
//! stored, and served through the authentication cache, on a fresh SQLite file and a fresh
//! PostgreSQL database each.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation

use billhub_core::channel_settings::{ChannelSettings, SingleUseSalts, VaAuth};
use billhub_core::org::SettingError;
use billhub_store::testing::TestDb;
use billhub_store::{CreatedChannel, Entity, InvalidKind, StoreError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-12-05 10:00 UTC);

fn channel(db: &TestDb, dialect: &str) -> CreatedChannel {
    db.create_channel(&format!("{dialect} channel"), dialect, NOW)
        .unwrap()
}

fn setting_error(e: StoreError) -> SettingError {
    match e {
        StoreError::Invalid(InvalidKind::Setting(s)) => s,
        other => panic!("not a setting error: {other:?}"),
    }
}

/// Defaults are today's behaviour; a valid value is stored and read back typed; an invalid
/// one, an unknown key, or a key of the other dialect is refused and changes nothing.
fn set_and_read_per_dialect(db: TestDb) {
    let bank = channel(&db, "va");
    let snap = channel(&db, "snap");
    let net = channel(&db, "postpaid");
    assert_eq!(
        db.channel_settings(bank.id).unwrap(),
        ChannelSettings::default()
    );
    assert_eq!(
        db.channel_settings(net.id).unwrap().csq_single_use_salts,
        SingleUseSalts::Reverts
    );

    db.set_channel_setting(bank.id, "va.auth", "passive", NOW)
        .unwrap();
    db.set_channel_setting(snap.id, "snap.partner_service_id.009902", "  88908", NOW)
        .unwrap();
    db.set_channel_setting(snap.id, "snap.timestamp_window", "120", NOW)
        .unwrap();
    db.set_channel_setting(net.id, "csq.single_use_salts", "all", NOW)
        .unwrap();
    let b = db.channel_settings(bank.id).unwrap();
    assert_eq!(b.va_auth, VaAuth::Passive);
    let b = db.channel_settings(snap.id).unwrap();
    assert_eq!(
        b.snap.partner_service_id("009902").as_deref(),
        Some("   88908")
    );
    assert_eq!(b.snap.timestamp_window(), Duration::seconds(120));
    assert_eq!(b.csq_single_use_salts, SingleUseSalts::Reverts);
    let n = db.channel_settings(net.id).unwrap();
    assert_eq!(n.csq_single_use_salts, SingleUseSalts::All);
    assert_eq!(n.va_auth, VaAuth::Bearer, "the other channel is untouched");

    // Setting a key again replaces its value (one row per key).
    db.set_channel_setting(bank.id, "va.auth", "bearer", NOW)
        .unwrap();
    assert_eq!(
        db.channel_settings(bank.id).unwrap().va_auth,
        VaAuth::Bearer
    );
    db.set_channel_setting(snap.id, "snap.partner_service_id.009902", "", NOW)
        .unwrap();
    assert_eq!(
        db.channel_settings(snap.id)
            .unwrap()
            .snap
            .partner_service_id("009902"),
        None
    );

    let before = db.channel_settings(bank.id).unwrap();
    let refused = [
        (bank.id, "va.auth", "sometimes"),
        (snap.id, "snap.timestamp_window", "0"),
        (snap.id, "snap.partner_service_id.12", "1"),
        (snap.id, "snap.public_key", "not a PEM key"),
        (bank.id, "snap.timestamp_window", "60"),
        (snap.id, "va.auth", "passive"),
        (bank.id, "csq.single_use_salts", "all"),
        (net.id, "va.auth", "passive"),
        (bank.id, "nope", "1"),
    ];
    for (id, key, value) in refused {
        let e = db.set_channel_setting(id, key, value, NOW).unwrap_err();
        let s = setting_error(e);
        assert!(
            matches!(&s, SettingError::Invalid { key: k, .. } | SettingError::UnknownKey(k) if k == key),
            "{key}={value}: {s:?}"
        );
    }
    assert_eq!(db.channel_settings(bank.id).unwrap(), before);
    assert_eq!(
        setting_error(
            db.set_channel_setting(net.id, "va.auth", "passive", NOW)
                .unwrap_err()
        )
        .to_string(),
        "invalid value for `va.auth`: applies to va channels only, and this is a postpaid channel"
    );

    let missing = 999_999;
    for e in [
        db.channel_settings(missing).unwrap_err(),
        db.set_channel_setting(missing, "va.auth", "passive", NOW)
            .unwrap_err(),
        db.cached_channel_settings(missing, NOW).unwrap_err(),
    ] {
        assert!(
            matches!(&e, StoreError::NotFound { entity: Entity::Channel, key } if key == "999999"),
            "{e:?}"
        );
    }
}

/// The cache serves a channel's settings for 5 s on the caller's clock; a change made through
/// the same store is seen at once, one made by another process within the 5 s.
fn cached_settings_follow_changes(db: TestDb) {
    let bank = channel(&db, "va");
    let cached = |store: &billhub_store::Store, now| {
        store.cached_channel_settings(bank.id, now).unwrap().va_auth
    };
    assert_eq!(cached(&db, NOW), VaAuth::Bearer);
    db.set_channel_setting(bank.id, "va.auth", "passive", NOW)
        .unwrap();
    assert_eq!(cached(&db, NOW), VaAuth::Passive, "same store: at once");

    let other = db.second_store();
    other
        .set_channel_setting(bank.id, "va.auth", "bearer", NOW)
        .unwrap();
    assert_eq!(
        cached(&db, NOW + Duration::milliseconds(4_999)),
        VaAuth::Passive,
        "another process's change is served from the cache for up to 5 s"
    );
    assert_eq!(
        cached(&db, NOW + Duration::seconds(5)),
        VaAuth::Bearer,
        "and seen after"
    );
}

/// The authenticated path reaches the settings of the credential's channel (none for a biller).
fn reachable_from_the_credential(db: TestDb) {
    let bank = channel(&db, "va");
    db.set_channel_setting(bank.id, "va.auth", "passive", NOW)
        .unwrap();
    let cred = db
        .authenticate_client(
            bank.client_id.as_deref().unwrap(),
            bank.client_secret.as_deref().unwrap(),
        )
        .unwrap()
        .unwrap();
    let settings = db
        .cached_credential_channel_settings(&cred, NOW)
        .unwrap()
        .unwrap();
    assert_eq!(settings.va_auth, VaAuth::Passive);

    let net = channel(&db, "postpaid");
    db.set_channel_setting(net.id, "csq.single_use_salts", "all", NOW)
        .unwrap();
    let cred = db
        .cached_username(net.username.as_deref().unwrap(), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(
        db.cached_credential_channel_settings(&cred, NOW)
            .unwrap()
            .unwrap()
            .csq_single_use_salts,
        SingleUseSalts::All
    );
}

/// A stored value that no longer validates is reported as corrupt, never replaced by the
/// default (a bank silently switched back to Bearer would be refused, or worse).
fn corrupt_values_are_reported(db: TestDb) {
    let bank = channel(&db, "va");
    db.raw_sql(&format!(
        "INSERT INTO channel_settings (channel_id, key, value, updated_at) \
         VALUES ({}, 'va.auth', 'sometimes', '2026-12-05 10:00:00')",
        bank.id
    ));
    let e = db.channel_settings(bank.id).unwrap_err();
    assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
}

billhub_store::backend_tests!(
    set_and_read_per_dialect,
    cached_settings_follow_changes,
    reachable_from_the_credential,
    corrupt_values_are_reported,
);
