//! Property tests of the core rules.

// Tests may panic on a broken expectation and index what they just built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use billhub_core::bill::{BillTransition, transition};
use billhub_core::rules::{Target, decide};
use billhub_core::statement::{EntryKind, LedgerEntry, account_statement};
use billhub_core::{Bill, Currency, Money, PaymentRule, SettlementMode, testing};
use proptest::prelude::*;
use rust_decimal::Decimal;
use time::macros::{date, datetime};
use time::{Date, Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(Currency::ALL.to_vec())
}

fn rule() -> impl Strategy<Value = PaymentRule> {
    prop_oneof![
        Just(PaymentRule::Exact),
        Just(PaymentRule::Open),
        prop::option::of(1i64..5_000).prop_map(|minimum| PaymentRule::Partial { minimum }),
    ]
}

fn bill(id: i64, billed: i64, rule: PaymentRule, due_offset: i64) -> Bill {
    testing::bill(id)
        .billed(billed)
        .rule(rule)
        .due_date(Some(date!(2025 - 02 - 01) + Duration::days(due_offset)))
        .build()
}

/// Applies an accepted decision to the bills as the store does (through the status machine).
fn apply(bills: &mut [Bill], decision: &billhub_core::Decision) {
    for a in &decision.allocations {
        let b = bills.iter_mut().find(|b| b.id == a.bill_id).unwrap();
        let (status, paid) =
            transition(b.status, b.billed, b.paid, BillTransition::Pay(a.amount)).unwrap();
        b.status = status;
        b.paid = paid;
    }
}

proptest! {
    #[test]
    fn money_round_trips_through_minor_units_and_text(minor in any::<i64>(), cur in currency()) {
        let m = Money::from_minor(minor, cur);
        prop_assert_eq!(Money::from_decimal(m.to_decimal(), cur).unwrap(), m);
        prop_assert_eq!(Money::parse(&m.to_fixed_string(), cur).unwrap(), m);
        prop_assert_eq!(Money::parse(&m.to_plain_string(), cur).unwrap(), m);
    }

    #[test]
    fn money_refuses_extra_decimals(minor in -1_000_000_000i64..1_000_000_000, extra in 1u32..9, digit in 1i64..10, cur in currency()) {
        // Append one non-zero digit past the currency's exponent: never rounded, always refused.
        let scale = cur.exponent() + extra;
        let d = Decimal::new(minor, cur.exponent()) + Decimal::new(digit, scale);
        prop_assert!(Money::from_decimal(d, cur).is_err());
    }

    #[test]
    fn statement_balances_chain(amounts in prop::collection::vec(-100_000i64..100_000, 0..40), months in 0i64..400, cap in 1usize..30) {
        let entries: Vec<LedgerEntry> = amounts.iter().enumerate().map(|(i, a)| LedgerEntry {
            kind: if *a >= 0 { EntryKind::Bill } else { EntryKind::Payment },
            reference: i as i64,
            public_no: String::new(),
            date: date!(2024 - 01 - 01) + Duration::days((i as i64) * 11),
            at: datetime!(2024-01-01 00:00 UTC) + Duration::hours(i as i64),
            amount: *a,
            void: false,
        }).collect();
        let from: Date = date!(2024 - 01 - 01) + Duration::days(months);
        let s = account_statement(&entries, from, cap);
        prop_assert!(s.lines.len() <= cap);
        for w in s.lines.windows(2) {
            prop_assert_eq!(w[0].balance, w[1].balance + w[0].entry.amount);
            prop_assert!(w[0].entry.date >= w[1].entry.date);
        }
        if let Some(oldest) = s.lines.last() {
            prop_assert_eq!(oldest.balance, s.opening_balance + oldest.entry.amount);
        }
        let total: i64 = amounts.iter().sum();
        let newest = s.lines.first().map(|l| l.balance).unwrap_or(s.opening_balance);
        prop_assert_eq!(newest, total);
    }

    #[test]
    fn accepted_payments_never_overpay_exact_or_partial_bills(
        billed in 1i64..100_000,
        rule in prop_oneof![Just(PaymentRule::Exact), prop::option::of(1i64..5_000).prop_map(|minimum| PaymentRule::Partial { minimum })],
        attempts in prop::collection::vec(-1_000i64..150_000, 1..30),
    ) {
        let mut bills = vec![bill(1, billed, rule, 0)];
        for amount in attempts {
            let before = bills.clone();
            match decide(Target::Bill(&bills[0]), Money::from_minor(amount, Currency::USD), NOW) {
                Ok(d) => {
                    prop_assert_eq!(d.applied() + d.credit, amount);
                    prop_assert_eq!(d.credit, 0);
                    apply(&mut bills, &d);
                }
                Err(_) => prop_assert_eq!(&bills, &before),
            }
            prop_assert!(bills[0].paid <= bills[0].billed);
        }
    }

    #[test]
    fn account_allocations_plus_credit_equal_the_payment(
        specs in prop::collection::vec((1i64..50_000, rule(), 0i64..60), 1..8),
        mode in prop_oneof![Just(SettlementMode::Total), Just(SettlementMode::Discrete), Just(SettlementMode::Open)],
        attempts in prop::collection::vec(-100i64..200_000, 1..12),
    ) {
        let mut bills: Vec<Bill> = specs.iter().enumerate().map(|(i, (b, r, d))| bill(i as i64 + 1, *b, *r, *d)).collect();
        for amount in attempts {
            let snapshot = bills.clone();
            let result = decide(Target::Account { bills: &snapshot, mode, chosen: None }, Money::from_minor(amount, Currency::USD), NOW);
            match result {
                Ok(d) => {
                    prop_assert!(amount > 0);
                    prop_assert!(d.credit >= 0);
                    prop_assert_eq!(d.applied() + d.credit, amount);
                    for a in &d.allocations {
                        prop_assert!(a.amount > 0);
                        let b = snapshot.iter().find(|b| b.id == a.bill_id).unwrap();
                        prop_assert!(a.amount <= b.outstanding());
                    }
                    // `discrete` keeps what is left over a covered prefix as credit.
                    if mode == SettlementMode::Total {
                        prop_assert_eq!(d.credit, 0);
                    }
                    apply(&mut bills, &d);
                }
                Err(_) => prop_assert_eq!(&bills, &snapshot),
            }
            for b in &bills {
                prop_assert!(b.paid <= b.billed);
            }
        }
    }
}
