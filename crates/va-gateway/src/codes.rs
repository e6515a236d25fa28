//! The dialect's `rc` codes in one table, and the mapping of core rejections and plumbing
//! failures onto them (store errors reach it through `From<StoreError> for VaError`).
//!
//! Every answer but `/oauth/token` is the envelope `{"rc", "message", "timestamp", "data"}`; a
//! refusal carries one of the codes below with its HTTP status. `docs/dialects/va.md` lists the
//! same table (a test keeps the two in step).

use actix_web::http::StatusCode;
use billhub_core::{Currency, Money, Rejection};
use billhub_http::PlumbingError;

use crate::error::VaError;

/// An `rc` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rc {
    Success,
    ValidationError,
    Unauthorized,
    Forbidden,
    BillNotFound,
    BillAlreadyPaid,
    BillExpired,
    BillVoid,
    InvalidAmount,
    VaNumberInUse,
    PaymentNotFound,
    PaymentAlreadyReversed,
    ReversalNotAllowed,
    InconsistentRequest,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    TooManyRequests,
    Timeout,
    BadRequest,
    SystemError,
}

impl Rc {
    /// Every code, in the documentation's order.
    pub const ALL: [Rc; 21] = [
        Rc::Success,
        Rc::ValidationError,
        Rc::Unauthorized,
        Rc::Forbidden,
        Rc::BillNotFound,
        Rc::BillAlreadyPaid,
        Rc::BillExpired,
        Rc::BillVoid,
        Rc::InvalidAmount,
        Rc::VaNumberInUse,
        Rc::PaymentNotFound,
        Rc::PaymentAlreadyReversed,
        Rc::ReversalNotAllowed,
        Rc::InconsistentRequest,
        Rc::NotFound,
        Rc::MethodNotAllowed,
        Rc::PayloadTooLarge,
        Rc::TooManyRequests,
        Rc::Timeout,
        Rc::BadRequest,
        Rc::SystemError,
    ];

    /// THE table: code, HTTP status, default message.
    pub fn entry(self) -> (&'static str, u16, &'static str) {
        match self {
            Rc::Success => ("SUCCESS", 200, "success"),
            Rc::ValidationError => ("VALIDATION_ERROR", 422, "The given data was invalid."),
            Rc::Unauthorized => ("UNAUTHORIZED", 401, "Unauthenticated."),
            Rc::Forbidden => (
                "FORBIDDEN",
                403,
                "This credential may not call this endpoint.",
            ),
            Rc::BillNotFound => ("BILL_NOT_FOUND", 404, "Bill not found."),
            Rc::BillAlreadyPaid => ("BILL_ALREADY_PAID", 409, "The bill is already paid."),
            Rc::BillExpired => ("BILL_EXPIRED", 409, "The bill has expired."),
            Rc::BillVoid => ("BILL_VOID", 409, "The bill has been revoked."),
            Rc::InvalidAmount => ("INVALID_AMOUNT", 422, "Invalid amount."),
            Rc::VaNumberInUse => (
                "VA_NUMBER_IN_USE",
                409,
                "The VA number is held by a bill that is still payable.",
            ),
            Rc::PaymentNotFound => ("PAYMENT_NOT_FOUND", 404, "Payment not found."),
            Rc::PaymentAlreadyReversed => (
                "PAYMENT_ALREADY_REVERSED",
                409,
                "The payment has already been reversed.",
            ),
            Rc::ReversalNotAllowed => (
                "REVERSAL_NOT_ALLOWED",
                409,
                "The payment can no longer be reversed.",
            ),
            Rc::InconsistentRequest => (
                "INCONSISTENT_REQUEST",
                409,
                "The reference was already used with different content.",
            ),
            Rc::NotFound => ("NOT_FOUND", 404, "No such endpoint."),
            Rc::MethodNotAllowed => (
                "METHOD_NOT_ALLOWED",
                405,
                "Method not allowed for this endpoint.",
            ),
            Rc::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", 413, "The request body is too large."),
            Rc::TooManyRequests => (
                "TOO_MANY_REQUESTS",
                429,
                "Too many requests; slow down and retry later.",
            ),
            Rc::Timeout => (
                "TIMEOUT",
                504,
                "The request timed out; retry it with the same reference.",
            ),
            Rc::BadRequest => ("BAD_REQUEST", 400, "Bad request."),
            Rc::SystemError => ("SYSTEM_ERROR", 500, "Internal error; retry later."),
        }
    }

    pub fn code(self) -> &'static str {
        self.entry().0
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.entry().1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn message(self) -> &'static str {
        self.entry().2
    }
}

fn idr(minor: i64) -> String {
    Money::from_minor(minor, Currency::IDR).to_plain_string()
}

/// A core rejection as the dialect says it.
pub fn from_rejection(r: &Rejection) -> VaError {
    use Rejection::*;
    match r {
        NotFound | BillNotPayable { .. } => VaError::code(Rc::BillNotFound),
        AlreadyPaid => VaError::code(Rc::BillAlreadyPaid),
        NothingToPay => VaError::with(Rc::BillAlreadyPaid, "Nothing is outstanding on the bill."),
        Expired => VaError::code(Rc::BillExpired),
        Void => VaError::code(Rc::BillVoid),
        NonPositiveAmount => VaError::with(Rc::InvalidAmount, "The amount must be positive."),
        BelowMinimum { minimum } => VaError::with(
            Rc::InvalidAmount,
            format!("The amount is below the minimum payment {}.", idr(*minimum)),
        ),
        AboveOutstanding { outstanding } => VaError::with(
            Rc::InvalidAmount,
            format!(
                "The amount is above the outstanding amount {}.",
                idr(*outstanding)
            ),
        ),
        TooLarge => VaError::with(
            Rc::InvalidAmount,
            "The amounts involved are too large to be represented exactly.",
        ),
        MustEqualOutstanding { outstanding } => VaError::with(
            Rc::InvalidAmount,
            format!(
                "The amount must equal the outstanding amount {}.",
                idr(*outstanding)
            ),
        ),
        CurrencyMismatch { .. } | MixedCurrencies => {
            VaError::with(Rc::InvalidAmount, "The bill is not payable in IDR.")
        }
        ReversalAmountMismatch => VaError::with(
            Rc::InvalidAmount,
            "The amount does not match the payment's amount.",
        ),
        InconsistentReplay => VaError::code(Rc::InconsistentRequest),
        AlreadyReversed => VaError::code(Rc::PaymentAlreadyReversed),
        ReversalWindowPassed => VaError::code(Rc::ReversalNotAllowed),
        CreditAlreadyUsed => VaError::with(
            Rc::ReversalNotAllowed,
            "The payment's overpayment credit has already been used; it cannot be reversed.",
        ),
        InsufficientCredit { .. } => {
            VaError::with(Rc::InvalidAmount, "The account credit is not enough.")
        }
        MoneyOnBill { .. } => VaError::with(
            Rc::BillAlreadyPaid,
            "The bill has payments on it; reverse them before revoking it.",
        ),
    }
}

/// A plumbing failure's code.
pub fn from_plumbing(err: &PlumbingError) -> (Rc, String) {
    let rc = match err {
        PlumbingError::PayloadTooLarge { .. } => Rc::PayloadTooLarge,
        PlumbingError::NotFound => Rc::NotFound,
        PlumbingError::MethodNotAllowed => Rc::MethodNotAllowed,
        PlumbingError::Timeout => Rc::Timeout,
        PlumbingError::BadRequest(_) => Rc::BadRequest,
        PlumbingError::TooManyRequests => Rc::TooManyRequests,
        PlumbingError::Internal => Rc::SystemError,
    };
    (rc, err.message())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::Refusal;

    /// One sample of every core rejection with its name; the match is exhaustive, so a new
    /// variant fails to compile here until it is documented and mapped.
    fn every_rejection() -> Vec<(&'static str, Rejection)> {
        let samples = [
            Rejection::NotFound,
            Rejection::AlreadyPaid,
            Rejection::Expired,
            Rejection::Void,
            Rejection::NothingToPay,
            Rejection::NonPositiveAmount,
            Rejection::BelowMinimum { minimum: 1 },
            Rejection::AboveOutstanding { outstanding: 1 },
            Rejection::MustEqualOutstanding { outstanding: 1 },
            Rejection::CurrencyMismatch {
                expected: Currency::IDR,
                got: Currency::USD,
            },
            Rejection::MixedCurrencies,
            Rejection::BillNotPayable { bill_id: 1 },
            Rejection::InconsistentReplay,
            Rejection::AlreadyReversed,
            Rejection::ReversalAmountMismatch,
            Rejection::ReversalWindowPassed,
            Rejection::CreditAlreadyUsed,
            Rejection::InsufficientCredit { available: 1 },
            Rejection::MoneyOnBill { paid: 1 },
            Rejection::TooLarge,
        ];
        samples
            .into_iter()
            .map(|r| {
                let name = match r {
                    Rejection::NotFound => "NotFound",
                    Rejection::AlreadyPaid => "AlreadyPaid",
                    Rejection::Expired => "Expired",
                    Rejection::Void => "Void",
                    Rejection::NothingToPay => "NothingToPay",
                    Rejection::NonPositiveAmount => "NonPositiveAmount",
                    Rejection::BelowMinimum { .. } => "BelowMinimum",
                    Rejection::AboveOutstanding { .. } => "AboveOutstanding",
                    Rejection::MustEqualOutstanding { .. } => "MustEqualOutstanding",
                    Rejection::CurrencyMismatch { .. } => "CurrencyMismatch",
                    Rejection::MixedCurrencies => "MixedCurrencies",
                    Rejection::BillNotPayable { .. } => "BillNotPayable",
                    Rejection::InconsistentReplay => "InconsistentReplay",
                    Rejection::AlreadyReversed => "AlreadyReversed",
                    Rejection::ReversalAmountMismatch => "ReversalAmountMismatch",
                    Rejection::ReversalWindowPassed => "ReversalWindowPassed",
                    Rejection::CreditAlreadyUsed => "CreditAlreadyUsed",
                    Rejection::InsufficientCredit { .. } => "InsufficientCredit",
                    Rejection::MoneyOnBill { .. } => "MoneyOnBill",
                    Rejection::TooLarge => "TooLarge",
                };
                (name, r)
            })
            .collect()
    }

    /// The rows of the page's `rc codes` table: (code, HTTP status, core rejections named in
    /// the `from` column).
    fn documented() -> Vec<(String, u16, Vec<String>)> {
        let doc = include_str!("../../../docs/dialects/va.md");
        let section = doc
            .split("## rc codes")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/dialects/va.md has an `rc codes` section");
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                let code = cells[0].trim_matches('`').to_string();
                let status = cells[1].parse().expect("an HTTP status");
                let from = cells[3]
                    .strip_prefix("core ")
                    .map(|names| {
                        names
                            .split(',')
                            .map(|n| n.trim().trim_matches('`').to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                (code, status, from)
            })
            .collect()
    }

    #[test]
    fn the_code_table_is_the_documented_one() {
        let rows = documented();
        let codes: Vec<&str> = Rc::ALL.iter().map(|rc| rc.code()).collect();
        let documented: Vec<&str> = rows.iter().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(
            codes, documented,
            "codes.rs and docs/dialects/va.md list other codes"
        );
        for (rc, (code, status, _)) in Rc::ALL.iter().zip(&rows) {
            assert_eq!(rc.entry().1, *status, "`{code}`: the page says {status}");
        }
    }

    #[test]
    fn every_rejection_is_documented_with_its_code() {
        let rows = documented();
        for (name, rejection) in every_rejection() {
            let listed: Vec<&str> = rows
                .iter()
                .filter(|(_, _, from)| from.iter().any(|n| n == name))
                .map(|(code, _, _)| code.as_str())
                .collect();
            let code = from_rejection(&rejection).rc().code();
            assert_eq!(
                listed,
                vec![code],
                "core `{name}` is answered `{code}`; docs/dialects/va.md lists it under {listed:?}"
            );
        }
        let known: Vec<&str> = every_rejection().iter().map(|(n, _)| *n).collect();
        for (code, _, from) in &rows {
            for name in from {
                assert!(
                    known.contains(&name.as_str()),
                    "`{code}` names unknown `{name}`"
                );
            }
        }
    }

    #[test]
    fn rejections_map_to_partner_codes() {
        assert_eq!(
            from_rejection(&Rejection::AlreadyPaid).rc(),
            Rc::BillAlreadyPaid
        );
        assert_eq!(
            from_rejection(&Rejection::InconsistentReplay).rc(),
            Rc::InconsistentRequest
        );
        match *from_rejection(&Rejection::MustEqualOutstanding {
            outstanding: 10_000_000,
        })
        .refusal
        {
            Refusal::Code(Rc::InvalidAmount, m) => assert!(m.contains("100000."), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
