//! The dialect's `rc` codes in one table, and the mapping of core rejections, store errors and
//! plumbing failures onto them.
//!
//! Every answer but `/oauth/token` is the envelope `{"rc", "message", "timestamp", "data"}`; a
//! refusal carries one of the codes below with its HTTP status. `docs/dialects/va.md` lists the
//! same table (a test keeps the two in step).

use actix_web::http::StatusCode;
use billhub_core::{Currency, Money, Rejection};
use billhub_http::{FieldErrors, PlumbingError};
use billhub_store::StoreError;

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

/// Why a request was refused, before it is rendered.
#[derive(Debug)]
pub enum VaError {
    /// A code with its own message (and no data).
    Code(Rc, String),
    /// Every failing field at once (`data` lists them).
    Validation(FieldErrors),
    /// Something failed inside billhub; logged with its cause, answered `SYSTEM_ERROR`.
    Internal(String),
}

impl VaError {
    pub fn code(rc: Rc) -> VaError {
        VaError::Code(rc, rc.message().to_string())
    }

    pub fn with(rc: Rc, message: impl Into<String>) -> VaError {
        VaError::Code(rc, message.into())
    }

    pub fn field(field: &str, message: impl Into<String>) -> VaError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        VaError::Validation(e)
    }

    pub fn rc(&self) -> Rc {
        match self {
            VaError::Code(rc, _) => *rc,
            VaError::Validation(_) => Rc::ValidationError,
            VaError::Internal(_) => Rc::SystemError,
        }
    }
}

impl From<FieldErrors> for VaError {
    fn from(e: FieldErrors) -> Self {
        VaError::Validation(e)
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
    }
}

/// A store error: rejections by the table above; anything else is internal (logged).
pub fn from_store(e: StoreError) -> VaError {
    match e {
        StoreError::Rejected(r) => from_rejection(&r),
        other => VaError::Internal(other.to_string()),
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
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_documented() {
        let doc = include_str!("../../../docs/dialects/va.md");
        let mut seen = std::collections::HashSet::new();
        for rc in Rc::ALL {
            let (code, status, _) = rc.entry();
            assert!(seen.insert(code), "{code} twice");
            assert!(
                doc.contains(&format!("| `{code}` | {status} |")),
                "docs/dialects/va.md does not list `{code}` with {status}"
            );
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
        match from_rejection(&Rejection::MustEqualOutstanding {
            outstanding: 10_000_000,
        }) {
            VaError::Code(Rc::InvalidAmount, m) => assert!(m.contains("100000."), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
