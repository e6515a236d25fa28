//! The CSQ result codes, in one table, and every mapping of a billhub refusal onto them.
//!
//! | rc | resultcode | meaning                                                     |
//! |----|------------|-------------------------------------------------------------|
//! | 0  | `10`       | payment accepted                                            |
//! | -1 | `11`       | rejected, with the reason (unknown account, expired, paid, wrong invoice, code problems, revert refused) |
//! | -1 | `12`       | duplicate: the reference was used with another request      |
//! | 0  | `20`       | revert accepted                                             |
//! | -1 | `900`      | invalid parameters (path integers, missing fields, unknown keys, unknown operator, amounts beyond int32) |
//! | -1 | `927`      | wrong amount                                                |
//! | -1 | `991`      | system error (details in the log only)                      |
//!
//! A refusal's result item has `finalstatus: -1` (as live CSQ answers), the code in
//! `resultcode`; transaction info of a reverted payment is `rc -1` with `resultcode "20"`.
//!
//! Every one of them is answered with HTTP 200; only authentication (401) and `Accept` (406)
//! use HTTP statuses (see `docs/dialects/postpaid.md`, whose table a test keeps in step).
//!
//! [`PostpaidError`] is the dialect's one error type: handlers and flows return it, it renders
//! the partner's body (a [`Refusal`]) and keeps the cause of an internal failure for the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use billhub_core::postpaid::SettleError;
use billhub_core::{Currency, Rejection};
use billhub_store::postpaid::CodeProblem;
use billhub_store::{StoreError, TxError};

use crate::wire::{ErrorResponse, ResultItem, to_x100};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    Ok,
    Rejected,
    Duplicate,
    RevertOk,
    InvalidParameters,
    WrongAmount,
    SystemError,
}

impl ResultCode {
    /// Every code, in the documentation's order.
    pub const ALL: [ResultCode; 7] = [
        ResultCode::Ok,
        ResultCode::Rejected,
        ResultCode::Duplicate,
        ResultCode::RevertOk,
        ResultCode::InvalidParameters,
        ResultCode::WrongAmount,
        ResultCode::SystemError,
    ];

    pub fn number(self) -> i64 {
        match self {
            ResultCode::Ok => 10,
            ResultCode::Rejected => 11,
            ResultCode::Duplicate => 12,
            ResultCode::RevertOk => 20,
            ResultCode::InvalidParameters => 900,
            ResultCode::WrongAmount => 927,
            ResultCode::SystemError => 991,
        }
    }

    pub fn as_string(self) -> String {
        self.number().to_string()
    }

    /// `rc`: 0 for the two successes, -1 for everything else.
    pub fn rc(self) -> i32 {
        match self {
            ResultCode::Ok | ResultCode::RevertOk => 0,
            ResultCode::Rejected
            | ResultCode::Duplicate
            | ResultCode::InvalidParameters
            | ResultCode::WrongAmount
            | ResultCode::SystemError => -1,
        }
    }
}

/// `finalstatus` of every refusal's item, as live CSQ answers carry it (the code is in
/// `resultcode`).
pub const REFUSED_FINAL_STATUS: i64 = -1;

/// A refusal in the dialect's terms: a result code and a message for the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ResultCode,
    pub message: String,
    /// The currency the refusal is about, when known (`destinationcurrency`).
    pub currency: Option<Currency>,
}

impl Refusal {
    pub fn new(code: ResultCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            currency: None,
        }
    }

    pub fn invalid(detail: impl AsRef<str>) -> Refusal {
        Refusal::new(
            ResultCode::InvalidParameters,
            format!("Invalid parameters: {}", detail.as_ref()),
        )
    }

    pub fn rejected(reason: impl Into<String>) -> Refusal {
        Refusal::new(ResultCode::Rejected, reason)
    }

    pub fn wrong_amount(reason: impl Into<String>) -> Refusal {
        Refusal::new(ResultCode::WrongAmount, reason)
    }

    pub fn duplicate() -> Refusal {
        Refusal::new(
            ResultCode::Duplicate,
            "Duplicate transaction: this localReference was already used on this date with another request",
        )
    }

    pub fn system() -> Refusal {
        Refusal::new(ResultCode::SystemError, "System error; retry later")
    }

    pub fn unknown_operator(operator_id: i32) -> Refusal {
        Refusal::invalid(format!("unknown operator {operator_id}"))
    }

    pub fn with_currency(mut self, currency: Currency) -> Refusal {
        self.currency = Some(currency);
        self
    }

    /// The refusal as the dialect answers it, with HTTP 200.
    pub fn response(&self) -> HttpResponse {
        self.response_with(StatusCode::OK)
    }

    /// The refusal's body with another HTTP status (401, 406, 413).
    pub fn response_with(&self, status: StatusCode) -> HttpResponse {
        HttpResponse::build(status).json(self.body())
    }

    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            rc: self.code.rc(),
            resultcode: self.code.as_string(),
            message: self.message.clone(),
            items: vec![ResultItem {
                finalstatus: REFUSED_FINAL_STATUS,
                resultcode: self.code.as_string(),
                resultmessage: self.message.clone(),
                supplierreference: String::new(),
                suppliertoken: String::new(),
                destinationcurrency: self
                    .currency
                    .map(|c| c.code().to_string())
                    .unwrap_or_default(),
                destinationamount: 0,
            }],
        }
    }
}

/// A minor amount as X100 text for messages.
fn x100_text(minor: i64, currency: Option<Currency>) -> String {
    currency
        .and_then(|c| to_x100(minor, c))
        .map(|v| v.to_string())
        .unwrap_or_else(|| format!("{minor} minor units"))
}

/// `minor` plus the fee, as X100 text; an amount beyond any payment when it does not fit.
fn with_fee(minor: i64, fee: i64, currency: Option<Currency>) -> String {
    match minor.checked_add(fee) {
        Some(v) => x100_text(v, currency),
        None => "an amount beyond any payment".into(),
    }
}

/// A core refusal. `fee` (minor units) is added to the amounts named, since the terminal sends
/// amounts fee included.
pub fn from_rejection(rejection: &Rejection, fee: i64, currency: Currency) -> Refusal {
    refusal_of(rejection, fee, Some(currency)).with_currency(currency)
}

/// A core refusal when the currency is not known (`destinationcurrency` stays empty).
pub fn refusal_of(rejection: &Rejection, fee: i64, currency: Option<Currency>) -> Refusal {
    match rejection {
        Rejection::NotFound => Refusal::rejected("Unknown account or invoice"),
        Rejection::AlreadyPaid => Refusal::rejected("The invoice is already paid"),
        Rejection::Expired => Refusal::rejected("The invoice has expired"),
        Rejection::Void => Refusal::rejected("The invoice has been cancelled"),
        Rejection::NothingToPay => Refusal::rejected("Nothing is pending on this account"),
        Rejection::BillNotPayable { .. } => Refusal::rejected(
            "A listed invoice is no longer payable (paid, expired or cancelled since the lookup); look the invoices up again",
        ),
        Rejection::MixedCurrencies => {
            Refusal::rejected("The account's invoices are in more than one currency")
        }
        Rejection::CurrencyMismatch { expected, .. } => {
            Refusal::rejected(format!("The invoices are in {expected}"))
        }
        Rejection::NonPositiveAmount => {
            Refusal::wrong_amount("Wrong amount: it must be more than the service fee")
        }
        Rejection::TooLarge => {
            Refusal::wrong_amount("Wrong amount: the amounts involved are too large")
        }
        Rejection::MustEqualOutstanding { outstanding } => Refusal::wrong_amount(format!(
            "Wrong amount: it must be exactly {} (X100, service fee included)",
            with_fee(*outstanding, fee, currency)
        )),
        Rejection::AboveOutstanding { outstanding } => Refusal::wrong_amount(format!(
            "Wrong amount: it must not exceed {} (X100, service fee included)",
            with_fee(*outstanding, fee, currency)
        )),
        Rejection::BelowMinimum { minimum } => Refusal::wrong_amount(format!(
            "Wrong amount: it must be at least {} (X100, service fee included)",
            with_fee(*minimum, fee, currency)
        )),
        Rejection::InconsistentReplay => Refusal::duplicate(),
        Rejection::AlreadyReversed => {
            Refusal::rejected("The original transaction has already been reverted")
        }
        Rejection::ReversalAmountMismatch => {
            Refusal::wrong_amount("Wrong amount: a revert must carry the original amountToSendX100")
        }
        Rejection::ReversalWindowPassed => Refusal::rejected(
            "The original transaction can no longer be reverted (revert window passed)",
        ),
        Rejection::CreditAlreadyUsed => Refusal::rejected(
            "The original transaction can no longer be reverted: the credit it left on the account has been used",
        ),
        Rejection::InsufficientCredit { .. } => {
            Refusal::rejected("The account credit is not enough")
        }
        Rejection::MoneyOnBill { .. } => Refusal::rejected(
            "The invoice has payments on it: revert or refund them before cancelling it",
        ),
    }
}

/// A transaction code that cannot pay.
pub fn from_code_problem(problem: CodeProblem) -> Refusal {
    Refusal::rejected(match problem {
        CodeProblem::Unknown => "Unknown transaction_code; look the invoices up first",
        CodeProblem::Used => {
            "The transaction_code has already been used; look the invoices up again"
        }
        CodeProblem::Expired => "The transaction_code has expired; look the invoices up again",
        CodeProblem::OtherTerminal => "The transaction_code was issued to another terminal",
        CodeProblem::OtherAccount => "The transaction_code was issued for another account",
    })
}

/// A postpaid payment that cannot be settled under its transaction code.
pub fn from_settle(err: &SettleError, fee: i64, currency: Currency) -> Refusal {
    match err {
        SettleError::Rejected(r) => from_rejection(r, fee, currency),
        SettleError::InvoiceNumbersRequired => {
            Refusal::invalid("invoiceNumbers is required for a DISCRETE payment")
                .with_currency(currency)
        }
        SettleError::NotListed { invoice } => Refusal::rejected(format!(
            "Invoice {invoice} was not listed as payable with this transaction_code"
        ))
        .with_currency(currency),
    }
}

/// Everything a postpaid request can end with besides its answer.
#[derive(Debug, thiserror::Error)]
pub enum PostpaidError {
    /// A refusal in the dialect's terms, answered with HTTP 200.
    #[error("refused with {}: {}", .0.code.number(), .0.message)]
    Refused(Refusal),
    /// Authentication failed: HTTP 401 with the refusal body.
    #[error("unauthorized: {}", .0.message)]
    Unauthorized(Refusal),
    /// An internal failure: logged with its cause, answered as a system error (991).
    #[error("internal error while {during}: {cause}")]
    Internal {
        during: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A store failure that is not a refusal: answered like [`PostpaidError::Internal`], and kept
    /// as it is so that a transaction that lost a race is run again ([`TxError`]).
    #[error("store error while {during}: {cause}")]
    Store {
        during: &'static str,
        #[source]
        cause: StoreError,
    },
}

impl PostpaidError {
    /// An internal failure with its cause, for the log.
    pub fn internal(
        during: &'static str,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> PostpaidError {
        PostpaidError::Internal {
            during,
            cause: cause.into(),
        }
    }

    /// A store failure while doing `during` (not a refusal: see [`from_store`] for those).
    pub fn store(during: &'static str, cause: StoreError) -> PostpaidError {
        PostpaidError::Store { during, cause }
    }

    /// A 401 with the dialect's body.
    pub fn unauthorized(message: impl Into<String>) -> PostpaidError {
        PostpaidError::Unauthorized(Refusal::new(ResultCode::InvalidParameters, message))
    }

    /// The refusal the partner sees.
    pub fn refusal(&self) -> Refusal {
        match self {
            PostpaidError::Refused(r) | PostpaidError::Unauthorized(r) => r.clone(),
            PostpaidError::Internal { .. } | PostpaidError::Store { .. } => Refusal::system(),
        }
    }
}

impl From<Refusal> for PostpaidError {
    fn from(r: Refusal) -> Self {
        PostpaidError::Refused(r)
    }
}

/// A store failure without context: a core refusal is mapped (no fee, no currency); anything
/// else is internal.
impl From<StoreError> for PostpaidError {
    fn from(e: StoreError) -> Self {
        match e.rejection() {
            Some(r) => PostpaidError::Refused(refusal_of(r, 0, None)),
            None => PostpaidError::store("using the store", e),
        }
    }
}

/// A flow's transaction is run again when the store error it ended with was a lost race.
impl TxError for PostpaidError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            PostpaidError::Store { cause, .. } => Some(cause),
            PostpaidError::Refused(_)
            | PostpaidError::Unauthorized(_)
            | PostpaidError::Internal { .. } => None,
        }
    }
}

impl ResponseError for PostpaidError {
    fn status_code(&self) -> StatusCode {
        match self {
            PostpaidError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            PostpaidError::Refused(_)
            | PostpaidError::Internal { .. }
            | PostpaidError::Store { .. } => StatusCode::OK,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let internal: Option<(&str, &(dyn std::error::Error + 'static))> = match self {
            PostpaidError::Internal { during, cause } => Some((during, &**cause)),
            PostpaidError::Store { during, cause } => Some((during, cause)),
            PostpaidError::Refused(_) | PostpaidError::Unauthorized(_) => None,
        };
        if let Some((during, cause)) = internal {
            tracing::error!(error = %with_sources(cause), during, "postpaid: internal error");
        }
        self.refusal().response_with(self.status_code())
    }
}

/// An error and each of its sources, `a: b: c`, for the log.
fn with_sources(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A store failure in a flow: a core refusal is mapped with the fee and currency its amounts
/// need; anything else is internal.
pub fn from_store(
    err: StoreError,
    fee: i64,
    currency: Currency,
    what: &'static str,
) -> PostpaidError {
    match err.rejection() {
        Some(r) => PostpaidError::Refused(from_rejection(r, fee, currency)),
        None => PostpaidError::store(what, err),
    }
}

/// Store reads and writes whose failure is internal whatever it is (kept for the log and for
/// [`TxError`]), named for the log.
pub trait During<T> {
    fn during(self, what: &'static str) -> Result<T, PostpaidError>;
}

impl<T> During<T> for Result<T, StoreError> {
    fn during(self, what: &'static str) -> Result<T, PostpaidError> {
        self.map_err(|e| PostpaidError::store(what, e))
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn one_table() {
        assert_eq!(ResultCode::Ok.rc(), 0);
        assert_eq!(ResultCode::RevertOk.rc(), 0);
        assert_eq!(ResultCode::WrongAmount.rc(), -1);
        let r = from_rejection(
            &Rejection::MustEqualOutstanding { outstanding: 12500 },
            100,
            Currency::EUR,
        );
        assert_eq!(r.code, ResultCode::WrongAmount);
        assert!(r.message.contains("12600"), "{}", r.message);
        assert_eq!(
            from_rejection(&Rejection::InconsistentReplay, 0, Currency::EUR).code,
            ResultCode::Duplicate
        );
        let body = serde_json::to_value(Refusal::invalid("x").body()).unwrap();
        assert_eq!(body["rc"], -1);
        assert_eq!(body["resultcode"], "900");
        assert_eq!(body["items"][0]["finalstatus"], -1);
        assert_eq!(body["items"][0]["resultcode"], "900");
        let internal = PostpaidError::internal("testing", "boom".to_string());
        assert_eq!(internal.refusal().code, ResultCode::SystemError);
        assert_eq!(internal.status_code(), StatusCode::OK);
        assert_eq!(
            PostpaidError::unauthorized("no").status_code(),
            StatusCode::UNAUTHORIZED
        );
    }

    /// The table of `docs/dialects/postpaid.md` ("Result codes") and [`ResultCode`] agree: every
    /// code is documented with its `rc`, and the page lists no other.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../../docs/dialects/postpaid.md");
        let table = doc
            .split("## Result codes")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").nth(1))
            .expect("docs/dialects/postpaid.md has a Result codes table");
        let rows: Vec<(i32, i64)> = table
            .lines()
            .skip(2)
            .map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                (
                    cells[1].parse().unwrap(),
                    cells[2].trim_matches('`').parse().unwrap(),
                )
            })
            .collect();
        let ours: Vec<(i32, i64)> = ResultCode::ALL
            .iter()
            .map(|c| (c.rc(), c.number()))
            .collect();
        assert_eq!(
            rows, ours,
            "docs/dialects/postpaid.md disagrees with codes.rs"
        );
        // And the table at the top of this file.
        let here = include_str!("codes.rs");
        for (rc, n) in ours {
            assert!(
                here.contains(&format!("//! | {rc:<2} | `{n}`")),
                "codes.rs docs lack {n}"
            );
        }
    }
}
