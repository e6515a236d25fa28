//! Criterion micro-benchmarks for core's hot pure paths (issue 12): the payment decision, the
//! account statement, every dialect's signature (sign and verify), and money parsing and
//! formatting. Pure CPU, no IO: what one request spends in core, apart from the store and HTTP.
//!
//! Run: `cargo bench -p billhub-core` (all), `cargo bench -p billhub-core -- signature/` (a
//! group), `cargo bench -p billhub-core -- --quick` (a shorter run). Criterion prints each
//! figure (time per call, with its spread); results are recorded in
//! `bench/results/YYYY-MM-DD-core-micro.md`. Not part of `cargo test` (a bench target runs only
//! under `cargo bench`; `cargo test --benches` runs each once as a smoke test).

// A bench's fixed inputs are valid by construction; a broken one should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use billhub_core::bill::SettlementMode;
use billhub_core::locale::{Locale, format_amount};
use billhub_core::rules::{Target, decide};
use billhub_core::signature::{csq, ipg, raudhahpay, snap};
use billhub_core::statement::{EntryKind, LedgerEntry, account_statement};
use billhub_core::testing::{self, EPOCH};
use billhub_core::{Bill, Currency, Money, PaymentRule};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use time::{Date, Duration};

/// A payment decision on one bill (each rule) and over an account of 1, 10 and 100 bills (each
/// settlement mode that takes a free amount or the total).
fn decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("decision");
    let now = EPOCH + Duration::days(3);
    let exact = testing::bill(1).billed(13_400).build();
    let partial = testing::bill(2)
        .billed(13_400)
        .rule(PaymentRule::Partial {
            minimum: Some(1_000),
        })
        .build();
    let open = testing::bill(3)
        .billed(13_400)
        .rule(PaymentRule::Open)
        .build();
    for (name, bill, amount) in [
        ("bill/exact", &exact, 13_400),
        ("bill/partial", &partial, 5_000),
        ("bill/open", &open, 20_000),
    ] {
        let money = Money::from_minor(amount, Currency::USD);
        g.bench_function(name, |b| {
            b.iter(|| decide(Target::Bill(black_box(bill)), black_box(money), now))
        });
    }
    for n in [1_i64, 10, 100] {
        let bills: Vec<Bill> = (1..=n)
            .map(|id| testing::bill(id).billed(1_000 + id).build())
            .collect();
        let total: i64 = bills.iter().map(Bill::outstanding).sum();
        for (mode, amount) in [
            (SettlementMode::Total, total),
            (SettlementMode::Open, total / 2 + 1),
        ] {
            let money = Money::from_minor(amount, Currency::USD);
            let target = Target::Account {
                bills: &bills,
                mode,
                chosen: None,
            };
            assert!(decide(target, money, now).is_ok(), "{n} bills, {mode:?}");
            g.bench_with_input(
                BenchmarkId::new(format!("account/{}", mode.as_str()), n),
                &n,
                |b, _| b.iter(|| decide(black_box(target), black_box(money), now)),
            );
        }
    }
    g.finish();
}

/// An account's ledger of `n` entries: bills on the 1st of each month, each paid a week later.
fn ledger(n: usize) -> Vec<LedgerEntry> {
    let start = Date::from_calendar_date(2020, time::Month::January, 1).unwrap();
    (0..n)
        .map(|i| {
            let id = i64::try_from(i).unwrap();
            let month = start + Duration::days(30 * (id / 2));
            if i % 2 == 0 {
                testing::bill(id + 1)
                    .billed(10_000 + id)
                    .bill_date(month)
                    .ledger_entry()
            } else {
                let date = month + Duration::days(7);
                LedgerEntry {
                    kind: EntryKind::Payment,
                    reference: id,
                    public_no: format!("00000000-0000-4000-8000-{id:012}"),
                    date,
                    at: date.midnight().assume_utc(),
                    amount: -(10_000 + id - 1),
                    void: false,
                }
            }
        })
        .collect()
}

/// The account statement (Bill24 `pending_bills`) over 10, 100 and 1,000 ledger entries,
/// listing at most 50.
fn statement(c: &mut Criterion) {
    let mut g = c.benchmark_group("statement");
    let from = Date::from_calendar_date(2000, time::Month::January, 1).unwrap();
    for n in [10_usize, 100, 1_000] {
        let entries = ledger(n);
        assert_eq!(account_statement(&entries, from, 50).lines.len(), n.min(50));
        g.bench_with_input(BenchmarkId::from_parameter(n), &entries, |b, entries| {
            b.iter(|| account_statement(black_box(entries), from, 50))
        });
    }
    g.finish();
}

/// Each HMAC-SHA256 dialect's signature, client side (sign) and server side (verify), over a
/// typical body: IPG, CSQ and RaudhahPay.
fn signatures(c: &mut Criterion) {
    let mut g = c.benchmark_group("signature");
    // IPG (va-gateway): HMAC-SHA256 hex over the body.
    let key = "8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f";
    let body = br#"{"partnerServiceId":"  009951","customerNo":"0000012345","virtualAccountNo":"  0099510000012345","trxDateInit":"2026-12-05T10:00:00+07:00","channelCode":6011,"inquiryRequestId":"abc-123"}"#;
    let sig = ipg::sign(key, body, "");
    assert!(ipg::verify(key, body, "", &sig));
    g.bench_function("ipg/sign", |b| {
        b.iter(|| ipg::sign(black_box(key), black_box(body), ""))
    });
    g.bench_function("ipg/verify", |b| {
        b.iter(|| ipg::verify(black_box(key), black_box(body), "", black_box(&sig)))
    });

    // CSQ (postpaid-gateway): SH = sha256(sha256(password) + sha256(ST)).
    let stored = csq::password_hash("terminal-network-password");
    let st = "1764928800";
    let sh = csq::salted_hash("terminal-network-password", st);
    assert_eq!(csq::verify(&stored, st, &sh, 1_764_928_800, 30), Ok(()));
    g.bench_function("csq/sign", |b| {
        b.iter(|| csq::salted_hash_from_password_hash(black_box(&stored), black_box(st)))
    });
    g.bench_function("csq/verify", |b| {
        b.iter(|| csq::verify(black_box(&stored), st, black_box(&sh), 1_764_928_800, 30))
    });

    // RaudhahPay (collections callbacks): sorted `key:value|...`, HMAC-SHA256 hex.
    let fields = [
        ("bill_no", "BP-000123"),
        ("ref1", "ACC-1"),
        ("ref2", ""),
        ("amount", "134.00"),
        ("paid_at", "2026-12-05 10:00:00"),
        ("status", "paid"),
        ("payment_method", "fpx"),
    ];
    let rp_key = "signature-key-of-the-organization";
    let rp_sig = raudhahpay::sign(rp_key, fields.iter().copied());
    let mut signed: Vec<(&str, &str)> = fields.to_vec();
    signed.push(("signature", rp_sig.as_str()));
    assert!(raudhahpay::verify(rp_key, signed.iter().copied()));
    g.bench_function("raudhahpay/sign", |b| {
        b.iter(|| raudhahpay::sign(black_box(rp_key), black_box(&fields).iter().copied()))
    });
    g.bench_function("raudhahpay/verify", |b| {
        b.iter(|| raudhahpay::verify(black_box(rp_key), black_box(&signed).iter().copied()))
    });

    g.finish();
}

/// SNAP (snap-gateway), sign and verify: every transaction HMAC-SHA512 base64 over method,
/// path, token, sha256(minified body) and timestamp; the token request SHA256withRSA (2048
/// bits).
fn snap_signatures(c: &mut Criterion) {
    let mut g = c.benchmark_group("signature");
    let secret = "client-secret-of-the-bank-0123456789";
    let token = "gSG3SwTnXjYHsbrBMEXbOlZePDsOk5sz9bmpROBX3Qaj5ZsgzPR6Zl";
    let path = "/v1.0/transfer-va/inquiry";
    let ts = "2026-12-05T10:00:00+07:00";
    let snap_body = br#"{
  "partnerServiceId": "  009951",
  "customerNo": "0000012345",
  "virtualAccountNo": "  0099510000012345",
  "inquiryRequestId": "abcdef-123456-abcdef"
}"#;
    let snap_sig = snap::sign(secret, "POST", path, token, snap_body, ts);
    assert!(snap::verify(
        secret, "POST", path, token, snap_body, ts, &snap_sig
    ));
    g.bench_function("snap/sign", |b| {
        b.iter(|| {
            snap::sign(
                black_box(secret),
                "POST",
                path,
                token,
                black_box(snap_body),
                ts,
            )
        })
    });
    g.bench_function("snap/verify", |b| {
        b.iter(|| {
            snap::verify(
                black_box(secret),
                "POST",
                path,
                token,
                black_box(snap_body),
                ts,
                black_box(&snap_sig),
            )
        })
    });
    let private_pem = include_str!("../tests/vectors/snap-test-key.pem");
    let public = snap::PublicKey::from_pem(include_str!("../tests/vectors/snap-test-key.pub.pem"))
        .expect("the test public key");
    let client = "bank-client-id";
    let token_sig = snap::sign_token_request(private_pem, client, ts).expect("the test key");
    assert!(snap::verify_token_request(&public, client, ts, &token_sig));
    g.bench_function("snap/token_sign_rsa", |b| {
        b.iter(|| snap::sign_token_request(black_box(private_pem), client, ts))
    });
    g.bench_function("snap/token_verify_rsa", |b| {
        b.iter(|| snap::verify_token_request(black_box(&public), client, ts, black_box(&token_sig)))
    });
    g.finish();
}

/// Money as the partners write it (parse) and as billhub writes it (format).
fn money(c: &mut Criterion) {
    let mut g = c.benchmark_group("money");
    for (name, text, currency) in [
        ("parse/plain", "134.00", Currency::USD),
        ("parse/whole", "5000000", Currency::IDR),
        ("parse/exponent", "1.0E7", Currency::IDR),
        ("parse/float_noise", "20.199999999999996", Currency::MYR),
    ] {
        assert!(Money::parse(text, currency).is_ok(), "{text}");
        g.bench_function(name, |b| {
            b.iter(|| Money::parse(black_box(text), black_box(currency)))
        });
    }
    g.bench_function("parse_exact/plain", |b| {
        b.iter(|| Money::parse_exact(black_box("134.00"), Currency::USD))
    });
    let usd = Money::from_minor(1_234_567, Currency::USD);
    let idr = Money::from_minor(5_000_000, Currency::IDR);
    g.bench_function("format/fixed", |b| {
        b.iter(|| black_box(usd).to_fixed_string())
    });
    g.bench_function("format/plain", |b| {
        b.iter(|| black_box(idr).to_plain_string())
    });
    for locale in Locale::ALL {
        g.bench_function(format!("format/locale_{}", locale.code()), |b| {
            b.iter(|| format_amount(black_box(1_234_567), Currency::USD, locale))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    decision,
    statement,
    signatures,
    snap_signatures,
    money
);
criterion_main!(benches);
