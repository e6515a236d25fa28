//! What `/proxy` and `/pending_bills` answer: the store's facts about a consumer code, through
//! core's rules (`payability`, `payable_bills`, `bill_bounds`, `account_statement`), spelled the
//! Bill24 way. Runs on the blocking pool (it calls the store).

use billhub_core::org::{Organization, Settings};
use billhub_core::rules::{bill_bounds, payability, payable_bills};
use billhub_core::statement::{EntryKind, account_statement};
use billhub_core::{Bill, BillStatus, Currency, Money, PaymentRule, SettlementMode};
use billhub_http::json::money_number;
use billhub_store::{Store, StoreResult};
use time::macros::time;
use time::{Date, Month, OffsetDateTime, Time};

use crate::codes::{CURRENCIES, Code, code_for};
use crate::wire::{
    PendingBill, PendingBillsData, ProxyData, proxy_datetime, proxy_instant, statement_date,
    unbounded,
};

/// A Bill24 answer: the data (code 0) or another code.
#[derive(Debug)]
pub enum Answer<T> {
    Data(T),
    Code(Code),
}

/// What is due and within which bounds, and the bill whose dates and description are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due<'a> {
    pub currency: Currency,
    /// Minor units.
    pub due: i64,
    /// `None`: no bound (Bill24's `-1`).
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub shown: &'a Bill,
}

fn carried(currency: Currency) -> bool {
    CURRENCIES.contains(&currency.code())
}

/// A bill named by its number: its own rule decides the bounds (`exact`: the outstanding both
/// ways; `partial`: its minimum, or no lower bound without one, and the outstanding; `open`: none).
pub fn bill_due(bill: &Bill, now: OffsetDateTime) -> Result<Due<'_>, Code> {
    payability(bill, now).map_err(|r| code_for(&r))?;
    if !carried(bill.currency) {
        return Err(Code::CurrencyNotAllow);
    }
    let due = bill.outstanding();
    let (low, high) = bill_bounds(bill);
    let (min, max) = match bill.rule {
        PaymentRule::Exact => (Some(low), high),
        PaymentRule::Partial { minimum: Some(_) } => (Some(low), high),
        PaymentRule::Partial { minimum: None } => (None, high),
        PaymentRule::Open => (None, None),
    };
    Ok(Due {
        currency: bill.currency,
        due,
        min,
        max,
        shown: bill,
    })
}

/// An account named by its code: its payable bills together, bounded by the organization's
/// settlement mode (`total`: the whole due both ways; `discrete`: the smallest payable bill and
/// the whole due; `open`: none).
pub fn account_due(
    bills: &[Bill],
    mode: SettlementMode,
    now: OffsetDateTime,
) -> Result<Due<'_>, Code> {
    let payable = payable_bills(bills, now);
    let Some(newest) = payable.last() else {
        let overdue = bills
            .iter()
            .any(|b| b.status_at(now) == BillStatus::Expired && b.outstanding() > 0);
        return Err(if overdue {
            Code::BillOverDue
        } else {
            Code::NoAmountToPay
        });
    };
    let currency = newest.currency;
    if payable.iter().any(|b| b.currency != currency) || !carried(currency) {
        return Err(Code::CurrencyNotAllow);
    }
    let due: i64 = payable.iter().map(|b| b.outstanding()).sum();
    let smallest = payable.iter().map(|b| b.outstanding()).min().unwrap_or(due);
    let (min, max) = match mode {
        SettlementMode::Total => (Some(due), Some(due)),
        SettlementMode::Discrete => (Some(smallest), Some(due)),
        SettlementMode::Open => (None, None),
    };
    Ok(Due {
        currency,
        due,
        min,
        max,
        shown: newest,
    })
}

fn bound(v: Option<i64>, currency: Currency) -> serde_json::Number {
    match v {
        Some(m) => money_number(Money::from_minor(m, currency)),
        None => unbounded(),
    }
}

/// `last_due_date`: the due date's last second, else the validity end, else empty.
fn due_date_text(bill: &Bill, org: &Organization) -> String {
    match (bill.due_date, bill.valid_until) {
        (Some(d), _) => proxy_datetime(d, time!(23:59:59)),
        (None, Some(v)) => proxy_instant(v, org.utc_offset),
        (None, None) => String::new(),
    }
}

fn description(bill: &Bill) -> String {
    if !bill.description.trim().is_empty() {
        bill.description.clone()
    } else if !bill.name.trim().is_empty() {
        bill.name.clone()
    } else {
        format!("Invoice {}", bill.invoice_number)
    }
}

/// `POST /proxy`.
pub fn proxy(
    store: &Store,
    org: &Organization,
    settings: &Settings,
    code: &str,
    now: OffsetDateTime,
) -> StoreResult<Answer<ProxyData>> {
    let Some(consumer) = store.bill24_consumer(org.id, code, now)? else {
        return Ok(Answer::Code(Code::NotFound));
    };
    let due = match &consumer.bill {
        Some(bill) => bill_due(bill, now),
        None => account_due(&consumer.account_bills, settings.settlement, now),
    };
    let due = match due {
        Ok(d) => d,
        Err(c) => return Ok(Answer::Code(c)),
    };
    let credit = store.account_credit(consumer.account.id, due.currency)?;
    let account = &consumer.account;
    Ok(Answer::Data(ProxyData {
        consumer_code: code.to_string(),
        consumer_name: if account.name.is_empty() {
            account.name_latin.clone()
        } else {
            account.name.clone()
        },
        consumer_name_latin: account.name_latin.clone(),
        phone: account.phone.clone(),
        currency: due.currency.code().to_string(),
        due_amount: money_number(Money::from_minor(due.due, due.currency)),
        min_amount: bound(due.min, due.currency),
        max_amount: bound(due.max, due.currency),
        balance: money_number(Money::from_minor(credit.max(0), due.currency)),
        description: description(due.shown),
        last_bill_date: proxy_datetime(due.shown.bill_date, Time::MIDNIGHT),
        last_due_date: due_date_text(due.shown, org),
        last_pay_date: consumer
            .last_paid_at
            .map(|t| proxy_instant(t, org.utc_offset))
            .unwrap_or_default(),
    }))
}

/// The first day of the statement window: `months` before `today`, the same day of the month
/// (the month's last day when it is shorter).
pub fn window_start(today: Date, months: u32) -> Date {
    let index = today.year() * 12 + i32::from(u8::from(today.month())) - 1 - months as i32;
    let year = index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    let day = today.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(today)
}

/// `POST /pending_bills`: core's account statement of the account the code names.
pub fn pending_bills(
    store: &Store,
    public_url: &str,
    org: &Organization,
    settings: &Settings,
    code: &str,
    now: OffsetDateTime,
) -> StoreResult<Answer<PendingBillsData>> {
    let Some(consumer) = store.bill24_consumer(org.id, code, now)? else {
        return Ok(Answer::Code(Code::NotFound));
    };
    let currencies = store.bill24_account_currencies(consumer.account.id)?;
    let currency = match currencies.as_slice() {
        [] => Currency::KHR,
        [one] => match Currency::from_code(one) {
            Ok(c) if carried(c) => c,
            _ => return Ok(Answer::Code(Code::CurrencyNotAllow)),
        },
        _ => return Ok(Answer::Code(Code::CurrencyNotAllow)),
    };
    let entries = store.ledger_entries(consumer.account.id, org.utc_offset)?;
    let today = now.to_offset(org.utc_offset).date();
    let from = window_start(today, settings.bill24_statement_months);
    let statement = account_statement(
        &entries,
        from,
        settings.bill24_statement_max_entries as usize,
    );
    let money = |minor: i64| money_number(Money::from_minor(minor, currency));
    Ok(Answer::Data(PendingBillsData {
        opening_balance: money(statement.opening_balance),
        pending_bills: statement
            .lines
            .iter()
            .map(|line| PendingBill {
                date: statement_date(line.entry.date),
                amount: money(line.entry.amount),
                balance: money(line.balance),
                digital_bill_url: match line.entry.kind {
                    EntryKind::Bill => format!("{public_url}/b/{}", line.entry.public_no),
                    EntryKind::Payment | EntryKind::Reversal => {
                        format!("{public_url}/r/{}", line.entry.public_no)
                    }
                },
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn bill(id: i64, currency: Currency, billed: i64, paid: i64, rule: PaymentRule) -> Bill {
        let t = datetime!(2025-01-01 00:00 UTC);
        Bill {
            id,
            organization_id: 1,
            account_id: 1,
            collection_id: None,
            public_no: format!("P{id:07}"),
            invoice_number: format!("INV-{id}"),
            ref1: String::new(),
            ref2: String::new(),
            name: String::new(),
            description: String::new(),
            currency,
            billed,
            paid,
            bill_date: date!(2025 - 01 - 01),
            due_date: None,
            valid_until: None,
            rule,
            status: if paid >= billed {
                BillStatus::Paid
            } else if paid > 0 {
                BillStatus::PartiallyPaid
            } else {
                BillStatus::Active
            },
            version: 0,
            created_at: t + time::Duration::seconds(id),
            updated_at: t,
        }
    }

    const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

    #[test]
    fn bill_bounds_per_rule() {
        let b = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (1000, Some(1000), Some(1000)));
        let b = bill(
            1,
            Currency::USD,
            1000,
            200,
            PaymentRule::Partial { minimum: Some(300) },
        );
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (800, Some(300), Some(800)));
        let b = bill(
            1,
            Currency::USD,
            1000,
            0,
            PaymentRule::Partial { minimum: None },
        );
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, Some(1000)));
        let b = bill(1, Currency::KHR, 1000, 0, PaymentRule::Open);
        let d = bill_due(&b, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, None));
        let b = bill(1, Currency::EUR, 1000, 0, PaymentRule::Exact);
        assert_eq!(bill_due(&b, NOW), Err(Code::CurrencyNotAllow));
        let b = bill(1, Currency::USD, 1000, 1000, PaymentRule::Exact);
        assert_eq!(bill_due(&b, NOW), Err(Code::NoAmountToPay));
        let mut b = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        b.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        assert_eq!(bill_due(&b, NOW), Err(Code::BillOverDue));
    }

    #[test]
    fn account_bounds_per_mode() {
        let bills = vec![
            bill(1, Currency::USD, 1000, 0, PaymentRule::Exact),
            bill(2, Currency::USD, 500, 0, PaymentRule::Exact),
            bill(3, Currency::USD, 700, 700, PaymentRule::Exact),
        ];
        let d = account_due(&bills, SettlementMode::Total, NOW).unwrap();
        assert_eq!((d.due, d.min, d.max), (1500, Some(1500), Some(1500)));
        assert_eq!(d.shown.id, 2);
        let d = account_due(&bills, SettlementMode::Discrete, NOW).unwrap();
        assert_eq!((d.min, d.max), (Some(500), Some(1500)));
        let d = account_due(&bills, SettlementMode::Open, NOW).unwrap();
        assert_eq!((d.min, d.max), (None, None));
        let mixed = vec![
            bill(1, Currency::USD, 1000, 0, PaymentRule::Exact),
            bill(2, Currency::KHR, 500, 0, PaymentRule::Exact),
        ];
        assert_eq!(
            account_due(&mixed, SettlementMode::Open, NOW),
            Err(Code::CurrencyNotAllow)
        );
        let mut expired = bill(1, Currency::USD, 1000, 0, PaymentRule::Exact);
        expired.valid_until = Some(datetime!(2025-05-01 00:00 UTC));
        let paid = bill(2, Currency::USD, 500, 500, PaymentRule::Exact);
        assert_eq!(
            account_due(&[expired, paid.clone()], SettlementMode::Open, NOW),
            Err(Code::BillOverDue)
        );
        assert_eq!(
            account_due(&[paid], SettlementMode::Open, NOW),
            Err(Code::NoAmountToPay)
        );
        assert_eq!(
            account_due(&[], SettlementMode::Open, NOW),
            Err(Code::NoAmountToPay)
        );
    }

    #[test]
    fn windows() {
        assert_eq!(
            window_start(date!(2025 - 09 - 01), 12),
            date!(2024 - 09 - 01)
        );
        assert_eq!(
            window_start(date!(2025 - 03 - 31), 1),
            date!(2025 - 02 - 28)
        );
        assert_eq!(
            window_start(date!(2025 - 01 - 15), 1),
            date!(2024 - 12 - 15)
        );
        assert_eq!(
            window_start(date!(2024 - 02 - 29), 12),
            date!(2023 - 02 - 28)
        );
        assert_eq!(
            window_start(date!(2025 - 09 - 01), 120),
            date!(2015 - 09 - 01)
        );
    }
}
