use time::macros::{date, datetime};

use super::*;

/// Every currency in every locale: `(currency, minor, [en, km, ms, id])`.
const AMOUNTS: &[(Currency, i64, [&str; 4])] = &[
    (
        Currency::KHR,
        500_000,
        ["KHR 5,000", "5,000 ៛", "KHR 5,000", "KHR 5,000"],
    ),
    (
        Currency::KHR,
        500_050,
        ["KHR 5,000.50", "5,000.50 ៛", "KHR 5,000.50", "KHR 5,000.50"],
    ),
    (Currency::KHR, 0, ["KHR 0", "0 ៛", "KHR 0", "KHR 0"]),
    (
        Currency::IDR,
        10_000_000,
        ["Rp 100.000", "Rp 100.000", "Rp 100.000", "Rp 100.000"],
    ),
    (Currency::IDR, 12_345_678_905, ["Rp 123.456.789,05"; 4]),
    (Currency::IDR, 99, ["Rp 0,99"; 4]),
    (Currency::MYR, 13_400, ["RM 134.00"; 4]),
    (Currency::MYR, 123_456_750, ["RM 1,234,567.50"; 4]),
    (Currency::EUR, 6_500, ["€65.00"; 4]),
    (Currency::EUR, 5, ["€0.05"; 4]),
    (Currency::USD, 1_250, ["$12.50"; 4]),
    (Currency::USD, 100_000_000, ["$1,000,000.00"; 4]),
    (Currency::SGD, 1_000, ["S$10.00"; 4]),
    (Currency::GBP, 99_999, ["£999.99"; 4]),
    (Currency::THB, 150_025, ["฿1,500.25"; 4]),
    (Currency::PHP, 100, ["₱1.00"; 4]),
    (Currency::VND, 12_000, ["12.000 ₫"; 4]),
    (Currency::JPY, 1_200, ["¥1,200"; 4]),
    (Currency::KRW, 1_000_000, ["₩1,000,000"; 4]),
    (Currency::BHD, 1_234, ["BHD 1.234"; 4]),
    (Currency::KWD, 1_234_500, ["KWD 1,234.500"; 4]),
];

#[test]
fn every_currency_in_every_locale() {
    for (currency, minor, expected) in AMOUNTS {
        for (locale, want) in Locale::ALL.iter().zip(expected) {
            assert_eq!(
                format_amount(*minor, *currency, *locale),
                *want,
                "{minor} {currency} in {}",
                locale.code()
            );
        }
    }
}

#[test]
fn the_brief_examples() {
    assert_eq!(format_amount(500_000, Currency::KHR, Locale::Km), "5,000 ៛");
    assert_eq!(
        format_amount(500_000, Currency::KHR, Locale::En),
        "KHR 5,000"
    );
    assert_eq!(
        format_amount(10_000_000, Currency::IDR, Locale::Id),
        "Rp 100.000"
    );
    assert_eq!(
        format_amount(13_400, Currency::MYR, Locale::Ms),
        "RM 134.00"
    );
    assert_eq!(format_amount(6_500, Currency::EUR, Locale::En), "€65.00");
    assert_eq!(format_amount(1_250, Currency::USD, Locale::Km), "$12.50");
}

#[test]
fn negative_and_extreme_amounts_are_exact() {
    assert_eq!(format_amount(-1_250, Currency::USD, Locale::En), "-$12.50");
    assert_eq!(
        format_amount(-500_000, Currency::KHR, Locale::Km),
        "-5,000 ៛"
    );
    assert_eq!(
        format_amount(i64::MAX, Currency::USD, Locale::En),
        "$92,233,720,368,547,758.07"
    );
    assert_eq!(
        format_amount(i64::MIN, Currency::IDR, Locale::Id),
        "-Rp 92.233.720.368.547.758,08"
    );
    // Exactness where a float would round: 2^53 + 1 minor units.
    assert_eq!(
        format_amount(9_007_199_254_740_993, Currency::USD, Locale::En),
        "$90,071,992,547,409.93"
    );
}

#[test]
fn dates_in_each_locale() {
    let d = date!(2025 - 09 - 30);
    assert_eq!(format_date(d, Locale::En), "30 September 2025");
    assert_eq!(format_date(d, Locale::Km), "30 កញ្ញា 2025");
    assert_eq!(format_date(d, Locale::Ms), "30 September 2025");
    assert_eq!(format_date(d, Locale::Id), "30 September 2025");
    let d = date!(2026 - 08 - 05);
    assert_eq!(format_date(d, Locale::En), "5 August 2026");
    assert_eq!(format_date(d, Locale::Km), "5 សីហា 2026");
    assert_eq!(format_date(d, Locale::Ms), "5 Ogos 2026");
    assert_eq!(format_date(d, Locale::Id), "5 Agustus 2026");
    assert_eq!(format_date(date!(2026 - 03 - 01), Locale::Ms), "1 Mac 2026");
    assert_eq!(
        format_date(date!(2026 - 12 - 31), Locale::Id),
        "31 Desember 2026"
    );
    assert_eq!(
        format_date(date!(2026 - 01 - 31), Locale::Km),
        "31 មករា 2026"
    );
}

#[test]
fn date_times_in_each_locale() {
    let t = datetime!(2025-09-30 14:05:59 +07:00);
    assert_eq!(
        format_date_time(t, Locale::En),
        "30 September 2025, 14:05 (UTC+07:00)"
    );
    assert_eq!(
        format_date_time(t, Locale::Km),
        "30 កញ្ញា 2025 ម៉ោង 14:05 (UTC+07:00)"
    );
    assert_eq!(
        format_date_time(t, Locale::Ms),
        "30 September 2025, 14:05 (UTC+07:00)"
    );
    assert_eq!(
        format_date_time(t, Locale::Id),
        "30 September 2025 14.05 (UTC+07:00)"
    );
    let t = datetime!(2026-01-02 00:07 -05:30);
    assert_eq!(
        format_date_time(t, Locale::En),
        "2 January 2026, 00:07 (UTC-05:30)"
    );
}

#[test]
fn tags_and_accept_language() {
    assert_eq!(Locale::from_tag("en-US"), Some(Locale::En));
    assert_eq!(Locale::from_tag("KM"), Some(Locale::Km));
    assert_eq!(Locale::from_tag("ms_MY"), Some(Locale::Ms));
    assert_eq!(Locale::from_tag("in"), Some(Locale::Id));
    assert_eq!(Locale::from_tag("fr"), None);
    assert_eq!(Locale::from_tag(""), None);
    assert_eq!(
        preferred("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7"),
        Some(Locale::Id)
    );
    assert_eq!(preferred("fr-FR, en;q=0.5, km;q=0.8"), Some(Locale::Km));
    assert_eq!(
        preferred("en;q=0.5, ms;q=0.500"),
        Some(Locale::En),
        "first among equals"
    );
    assert_eq!(
        preferred("km;q=0, en;q=0.1"),
        Some(Locale::En),
        "q=0 is a refusal"
    );
    assert_eq!(preferred("ms;q=1.0,id;q=0.999"), Some(Locale::Ms));
    assert_eq!(
        preferred("ms;q=2,id;q=0.1"),
        Some(Locale::Id),
        "a bad q counts as 0"
    );
    assert_eq!(preferred("ms;q=abc"), None);
    assert_eq!(preferred("*"), None);
    assert_eq!(preferred("fr, de;q=0.9"), None);
    assert_eq!(preferred(""), None);
    assert_eq!(preferred("  ms ; Q=0.3 "), Some(Locale::Ms));
}

#[test]
fn negotiation_order() {
    assert_eq!(negotiate(Some("km"), Some("en"), Locale::Id), Locale::Km);
    assert_eq!(negotiate(Some("xx"), Some("ms"), Locale::Id), Locale::Ms);
    assert_eq!(negotiate(None, Some("fr"), Locale::Id), Locale::Id);
    assert_eq!(negotiate(None, None, Locale::Km), Locale::Km);
    assert_eq!(negotiate(None, Some("*"), Locale::Km), Locale::Km);
}

#[test]
fn locales_match_the_settings() {
    let codes: Vec<&str> = Locale::ALL.iter().map(|l| l.code()).collect();
    assert_eq!(codes, crate::org::LOCALES);
    for l in Locale::ALL {
        assert_eq!(Locale::from_tag(l.code()), Some(l));
    }
}

#[test]
fn statuses_and_channels() {
    assert_eq!(status_label(BillStatus::Active, Locale::En), "Unpaid");
    assert_eq!(
        status_label(BillStatus::PartiallyPaid, Locale::Id),
        "Dibayar sebagian"
    );
    assert_eq!(status_label(BillStatus::Paid, Locale::Km), "បានបង់រួច");
    assert_eq!(
        status_label(BillStatus::Expired, Locale::Ms),
        "Tamat tempoh"
    );
    assert_eq!(status_label(BillStatus::Void, Locale::En), "Cancelled");
    assert_eq!(
        channel_label("va:3", Locale::En),
        "Bank transfer (virtual account)"
    );
    assert_eq!(channel_label("bill24", Locale::Km), "កម្មវិធីធនាគារ (Bill24)");
    assert_eq!(
        channel_label("postpaid:2", Locale::Ms),
        "Terminal pembayaran"
    );
    assert_eq!(channel_label("cli", Locale::Id), "Operator");
    assert_eq!(channel_label("mystery", Locale::En), "mystery");
}

#[test]
fn every_label_is_written_in_every_locale() {
    for l in Locale::ALL {
        let t = l.labels();
        assert!(t.months.iter().all(|m| !m.is_empty()), "{}", l.code());
        assert!(!t.bill_not_found.is_empty() && !t.qr_label.is_empty());
    }
    // The translations differ from English where the languages differ.
    assert_ne!(
        Locale::Km.labels().amount_due,
        Locale::En.labels().amount_due
    );
    assert_ne!(
        Locale::Ms.labels().amount_due,
        Locale::Id.labels().amount_due
    );
}
