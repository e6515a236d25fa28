//! The one table of Bill24 answer codes: core rejections -> Merchant Proxy codes 0-4 with their
//! English and Khmer messages, and the Khmer texts of the HTTP-level errors (400, 401, plumbing).
//!
//! The codes and English messages are Bill24's ("Merchant Proxy › Response Code"); Bill24's own
//! examples send `message_kh: ""`, billhub fills it in.

use actix_web::http::StatusCode;
use billhub_core::Rejection;

/// A Merchant Proxy answer code (always with HTTP 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 0: the data is in `data`.
    Success,
    /// 1: no account or bill with this code (or the bill is void).
    NotFound,
    /// 2: every unpaid bill has expired.
    BillOverDue,
    /// 3: nothing is outstanding.
    NoAmountToPay,
    /// 4: a currency Bill24 does not carry (only USD and KHR), or payable bills in two currencies.
    CurrencyNotAllow,
}

impl Code {
    pub fn number(self) -> u16 {
        match self {
            Code::Success => 0,
            Code::NotFound => 1,
            Code::BillOverDue => 2,
            Code::NoAmountToPay => 3,
            Code::CurrencyNotAllow => 4,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Code::Success => "Success",
            Code::NotFound => "Error Not Found",
            Code::BillOverDue => "Error Bill Over Due",
            Code::NoAmountToPay => "Error No Amount To Pay",
            Code::CurrencyNotAllow => "Error Currency Not Allow",
        }
    }

    pub fn message_kh(self) -> &'static str {
        match self {
            Code::Success => "ជោគជ័យ",
            Code::NotFound => "រកមិនឃើញ",
            Code::BillOverDue => "វិក្កយបត្រហួសកាលកំណត់",
            Code::NoAmountToPay => "មិនមានចំនួនទឹកប្រាក់ត្រូវបង់",
            Code::CurrencyNotAllow => "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត",
        }
    }

    /// Every code, in number order (docs and tests).
    pub const ALL: [Code; 5] = [
        Code::Success,
        Code::NotFound,
        Code::BillOverDue,
        Code::NoAmountToPay,
        Code::CurrencyNotAllow,
    ];
}

/// The code an inquiry answers when core refuses the bill or account. Written out for every
/// rejection so that a new one must be placed here.
pub fn code_for(rejection: &Rejection) -> Code {
    match rejection {
        Rejection::NotFound | Rejection::Void | Rejection::BillNotPayable { .. } => Code::NotFound,
        Rejection::Expired => Code::BillOverDue,
        Rejection::AlreadyPaid | Rejection::NothingToPay => Code::NoAmountToPay,
        Rejection::CurrencyMismatch { .. } | Rejection::MixedCurrencies => Code::CurrencyNotAllow,
        // Amount refusals never come out of an inquiry (it has no amount); the closest code is
        // "no amount to pay".
        Rejection::NonPositiveAmount
        | Rejection::BelowMinimum { .. }
        | Rejection::AboveOutstanding { .. }
        | Rejection::MustEqualOutstanding { .. }
        | Rejection::TooLarge => Code::NoAmountToPay,
        // Replays and reversals are not inquiries either.
        Rejection::InconsistentReplay
        | Rejection::AlreadyReversed
        | Rejection::ReversalAmountMismatch
        | Rejection::ReversalWindowPassed
        | Rejection::CreditAlreadyUsed
        | Rejection::InsufficientCredit { .. } => Code::NotFound,
        // Voiding is not an inquiry; a bill with money on it is still payable.
        Rejection::MoneyOnBill { .. } => Code::NoAmountToPay,
    }
}

/// Currencies Bill24 carries.
pub const CURRENCIES: [&str; 2] = ["USD", "KHR"];

/// The Khmer text of an HTTP-level error (the envelope's `message_kh` with `code` = the HTTP
/// status).
pub fn http_message_kh(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "សំណើមិនត្រឹមត្រូវ",
        401 | 403 => "មិនមានការអនុញ្ញាត",
        404 => "រកមិនឃើញ",
        405 => "វិធីសាស្ត្រនេះមិនត្រូវបានអនុញ្ញាត",
        413 => "សំណើធំពេក",
        429 => "សំណើច្រើនពេក សូមព្យាយាមម្តងទៀតនៅពេលក្រោយ",
        504 => "អស់ពេលកំណត់ សូមព្យាយាមម្តងទៀត",
        _ => "មានបញ្ហាក្នុងប្រព័ន្ធ សូមព្យាយាមម្តងទៀតនៅពេលក្រោយ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_bill24s() {
        let numbers: Vec<u16> = Code::ALL.iter().map(|c| c.number()).collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 4]);
        assert_eq!(code_for(&Rejection::Expired), Code::BillOverDue);
        assert_eq!(code_for(&Rejection::AlreadyPaid), Code::NoAmountToPay);
        assert_eq!(
            code_for(&Rejection::MixedCurrencies),
            Code::CurrencyNotAllow
        );
        assert_eq!(code_for(&Rejection::Void), Code::NotFound);
        for c in Code::ALL {
            assert!(!c.message_kh().is_empty());
            assert!(!c.message_kh().is_ascii());
        }
    }

    /// The rows of the page's "## Codes" table: (code, message, message_kh).
    fn documented_codes(doc: &str) -> Vec<(u16, String, String)> {
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("Codes\n"))
            .expect("docs/dialects/bill24.md has a `## Codes` section");
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line
                    .trim()
                    .strip_prefix('|')?
                    .strip_suffix('|')?
                    .split('|')
                    .map(|c| c.trim().trim_matches('`'))
                    .collect();
                let code = cells.first()?.parse::<u16>().ok()?;
                Some((code, cells.get(1)?.to_string(), cells.get(2)?.to_string()))
            })
            .collect()
    }

    /// `docs/dialects/bill24.md` lists exactly this table's codes, messages and Khmer messages.
    #[test]
    fn the_page_lists_every_code() {
        let doc = include_str!("../../../docs/dialects/bill24.md");
        let documented = documented_codes(doc);
        let table: Vec<(u16, String, String)> = Code::ALL
            .iter()
            .map(|c| {
                (
                    c.number(),
                    c.message().to_string(),
                    c.message_kh().to_string(),
                )
            })
            .collect();
        assert_eq!(
            documented, table,
            "docs/dialects/bill24.md `## Codes` disagrees with codes.rs"
        );
    }
}
