//! Every answer of the collections dialect that is not a success, and the integer codes it
//! writes, in one place.
//!
//! Errors are Laravel's JSON shapes: `{"message": "..."}` for everything, plus `errors` (field
//! path -> messages, every bad field at once) for 422. Store errors that are not the caller's
//! fault keep their cause ([`Cause`]); it is logged once, when the answer is rendered, and the
//! caller sees only `{"message": "Server Error"}` (500) or, when retrying helps, 503; never an
//! HTML page.
//!
//! Every core [`Rejection`] and every refused bill change ([`PatchRefusal`]) is mapped here,
//! exhaustively; `docs/dialects/collections.md` lists the same statuses (a test holds them
//! together).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use billhub_core::MoneyError;
use billhub_core::bill::LineItemError;
use billhub_core::patch::PatchRefusal;
use billhub_core::{BillStatus, PaymentRule, Rejection};
use billhub_http::{FieldErrors, PlumbingError};
use billhub_store::collections::{BillRefusal, CreateProblem};
use billhub_store::{StoreError, TxError};

/// The integer `status` of a bill, as the collections API writes it in bills and callbacks.
/// The partner's two public data points fix `2` (a new bill) and `4` (a paid bill's
/// callback); the others follow them, documented in `docs/dialects/collections.md`.
pub const BILL_STATUS_CODES: [(BillStatus, i32, &str); 5] = [
    (BillStatus::Active, 2, "active"),
    (BillStatus::PartiallyPaid, 3, "partially_paid"),
    (BillStatus::Paid, 4, "paid"),
    (BillStatus::Void, 5, "cancelled"),
    (BillStatus::Expired, 6, "expired"),
];

/// The integer `type` of a bill: `2` a fixed bill (the `exact` rule, every bill made through
/// this API), `1` an open-amount bill (`partial` or `open` rule, made elsewhere).
pub const BILL_TYPE_FIXED: i32 = 2;
pub const BILL_TYPE_OPEN_AMOUNT: i32 = 1;

pub fn status_code(status: BillStatus) -> i32 {
    BILL_STATUS_CODES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, c, _)| *c)
        .unwrap_or(0)
}

/// A `filter[status]` value: the integer code or its name (`cancelled` or `void`).
pub fn status_from_filter(value: &str) -> Option<BillStatus> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("void") {
        return Some(BillStatus::Void);
    }
    BILL_STATUS_CODES
        .iter()
        .find(|(_, c, name)| v == c.to_string() || v.eq_ignore_ascii_case(name))
        .map(|(s, _, _)| *s)
}

pub fn type_code(rule: PaymentRule) -> i32 {
    match rule {
        PaymentRule::Exact => BILL_TYPE_FIXED,
        _ => BILL_TYPE_OPEN_AMOUNT,
    }
}

/// A failed request, rendered in Laravel's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: a malformed request (body not JSON, an unknown include or filter).
    BadRequest(String),
    /// 401: no valid access token.
    Unauthenticated,
    /// 403: the bill's state forbids the change.
    Forbidden(String),
    /// 404: no such resource for this organization (also another organization's).
    NotFound(&'static str),
    /// 405.
    MethodNotAllowed,
    /// 409: an `Idempotency-Key` used with another request.
    Conflict(String),
    /// 413.
    PayloadTooLarge { limit: usize },
    /// 422: every bad field at once.
    Validation(FieldErrors),
    /// 429: the token's requests in this minute exceed the organization's limit.
    TooManyRequests { limit: u32, retry_after: u64 },
    /// 500: details are in the log only.
    Internal(Cause),
    /// 503: a transient store condition; retrying helps.
    Unavailable(Cause),
    /// 504.
    Timeout,
}

/// Why billhub failed, for the log only (the caller never sees it). Empty when the failure
/// was logged where it happened (a plumbing failure). A store failure keeps the store's error
/// itself, so the store's transaction can tell a lost race (run again) or a dead connection
/// (healed) from the answer a flow gave ([`TxError`]).
#[derive(Debug, Clone, Default)]
pub struct Cause {
    text: String,
    store: Option<Arc<StoreError>>,
}

impl Cause {
    pub fn new(cause: impl std::fmt::Display) -> Cause {
        Cause {
            text: cause.to_string(),
            store: None,
        }
    }

    /// A store failure, kept whole.
    pub fn store(e: StoreError) -> Cause {
        Cause {
            text: e.to_string(),
            store: Some(Arc::new(e)),
        }
    }

    /// The cause as the log shows it.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// Causes are equal when they read the same.
impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.text == other.text
    }
}

impl Eq for Cause {}

/// An error body.
#[derive(Debug, serde::Serialize)]
pub struct ErrorBody<'a> {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a FieldErrors>,
}

pub const VALIDATION_MESSAGE: &str = "The given data was invalid.";

impl ApiError {
    pub fn validation_one(field: &str, message: impl Into<String>) -> ApiError {
        let mut e = FieldErrors::new();
        e.add(field, message);
        ApiError::Validation(e)
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m) | ApiError::Forbidden(m) | ApiError::Conflict(m) => m.clone(),
            ApiError::Unauthenticated => "Unauthenticated.".into(),
            ApiError::NotFound(what) => format!("{what} not found."),
            ApiError::MethodNotAllowed => PlumbingError::MethodNotAllowed.message(),
            ApiError::PayloadTooLarge { limit } => {
                PlumbingError::PayloadTooLarge { limit: *limit }.message()
            }
            ApiError::Validation(_) => VALIDATION_MESSAGE.into(),
            ApiError::TooManyRequests { .. } => "Too Many Attempts.".into(),
            ApiError::Internal(_) => "Server Error".into(),
            ApiError::Unavailable(_) => {
                "Service Unavailable: the request could not be completed now; retry it.".into()
            }
            ApiError::Timeout => PlumbingError::Timeout.message(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The JSON body (`message` first, then `errors` for a 422, as Laravel writes them).
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            message: self.message(),
            errors: match self {
                ApiError::Validation(errors) => Some(errors),
                _ => None,
            },
        }
    }

    /// A failure the shared plumbing caught, in this dialect's shape.
    pub fn from_plumbing(err: &PlumbingError) -> ApiError {
        match err {
            PlumbingError::PayloadTooLarge { limit } => ApiError::PayloadTooLarge { limit: *limit },
            PlumbingError::NotFound => ApiError::NotFound("Resource"),
            PlumbingError::MethodNotAllowed => ApiError::MethodNotAllowed,
            PlumbingError::Timeout => ApiError::Timeout,
            PlumbingError::BadRequest(m) => ApiError::BadRequest(m.clone()),
            PlumbingError::TooManyRequests => ApiError::TooManyRequests {
                limit: 0,
                retry_after: 60,
            },
            PlumbingError::Internal => ApiError::Internal(Cause::default()),
        }
    }

    /// A refused bill change (the store's spelling of core's [`PatchRefusal`]).
    pub fn from_refusal(r: &BillRefusal) -> ApiError {
        ApiError::from_patch_refusal(&match r {
            BillRefusal::MoneyOnBill => return ApiError::Forbidden(MONEY_ON_BILL.into()),
            BillRefusal::Cancelled => PatchRefusal::Cancelled,
            BillRefusal::PaidCannotCancel => PatchRefusal::PaidCannotCancel,
            BillRefusal::CurrencyAfterPayment => PatchRefusal::CurrencyAfterPayment,
            BillRefusal::CurrencyTooPrecise(c) => PatchRefusal::CurrencyTooPrecise(*c),
        })
    }

    /// A bill change core refused.
    pub fn from_patch_refusal(r: &PatchRefusal) -> ApiError {
        match r {
            PatchRefusal::Cancelled => {
                ApiError::Forbidden("This bill is cancelled and can no longer be changed.".into())
            }
            PatchRefusal::PaidCannotCancel => {
                ApiError::Forbidden("This bill is paid and cannot be cancelled.".into())
            }
            PatchRefusal::CurrencyAfterPayment => ApiError::validation_one(
                "currency",
                "The currency cannot be changed once a payment has been made.",
            ),
            PatchRefusal::CurrencyTooPrecise(c) => ApiError::validation_one(
                "currency",
                format!(
                    "The bill's amounts have more decimals than {} allows.",
                    c.code()
                ),
            ),
            PatchRefusal::Transition(e) => ApiError::Internal(Cause::new(e)),
        }
    }

    /// Refused creates (`422`), every problem at once; `currency` names the bill's currency in
    /// the messages that need it.
    pub fn from_problems(problems: &[CreateProblem], currency: &str) -> ApiError {
        let mut e = FieldErrors::new();
        for p in problems {
            let (field, message) = create_problem(p, currency);
            e.add(field, message);
        }
        ApiError::Validation(e)
    }

    /// Logs a failure of billhub with its cause, once per answer.
    fn log(&self) {
        match self {
            ApiError::Internal(cause) if !cause.is_empty() => {
                tracing::error!(error = %cause.text(), "collections request failed");
            }
            ApiError::Unavailable(cause) if !cause.is_empty() => {
                tracing::warn!(error = %cause.text(), "database busy or unavailable");
            }
            _ => {}
        }
    }
}

/// A product line's amounts that core refused, as (field, message).
pub fn line_problem(index: usize, e: &LineItemError) -> (String, String) {
    let quantity = format!("product.{index}.quantity");
    let price = format!("product.{index}.price");
    match e {
        LineItemError::NonPositiveQuantity => {
            let m = format!("The {quantity} must be greater than 0.");
            (quantity, m)
        }
        LineItemError::NegativePrice => {
            let m = format!("The {price} must be at least 0.");
            (price, m)
        }
        LineItemError::Money(MoneyError::TooPrecise { currency, .. }) => (
            quantity,
            format!(
                "The total of product.{index} (quantity x price) has more decimals than {currency} allows."
            ),
        ),
        LineItemError::Money(_) | LineItemError::TotalMismatch { .. } => (
            quantity,
            format!("The total of product.{index} (quantity x price) is too large."),
        ),
    }
}

/// A refused create, as (field, message).
pub fn create_problem(p: &CreateProblem, currency: &str) -> (String, String) {
    match p {
        CreateProblem::UnknownProduct { index } => (
            format!("product.{index}.id"),
            format!("The selected product.{index}.id is invalid."),
        ),
        CreateProblem::ProductCurrency {
            index,
            currency: theirs,
        } => (
            format!("product.{index}.id"),
            format!("The product.{index}.id is priced in {theirs}, not in {currency}."),
        ),
        CreateProblem::CataloguePrice { index, price } => (
            format!("product.{index}.price"),
            format!(
                "The catalogue price {price} of product.{index} has more decimals than {currency} allows; send a price."
            ),
        ),
        CreateProblem::PriceRequired { index } => (
            format!("product.{index}.price"),
            format!("The product.{index}.price field is required."),
        ),
        CreateProblem::Line { index, error } => line_problem(*index, error),
        CreateProblem::ZeroTotal => (
            "product".into(),
            "The bill total must be greater than 0.".into(),
        ),
        CreateProblem::TotalTooLarge => ("product".into(), "The bill total is too large.".into()),
        CreateProblem::AccNoTaken => ("acc_no".into(), "The acc_no has already been taken.".into()),
    }
}

/// A cancel refused while payments are on the bill (nothing may be stranded on a void bill).
const MONEY_ON_BILL: &str =
    "This bill has payments on it: reverse or refund them before cancelling it.";

/// Core rejections as they can surface here (a bill's state decides what may happen to it).
pub fn from_rejection(r: &Rejection) -> ApiError {
    match r {
        Rejection::NotFound => ApiError::NotFound("Resource"),
        Rejection::AlreadyPaid => ApiError::Forbidden("This bill is already paid.".into()),
        Rejection::Void => ApiError::Forbidden("This bill is cancelled.".into()),
        Rejection::Expired => ApiError::Forbidden("This bill has expired.".into()),
        Rejection::InconsistentReplay => ApiError::Conflict(
            "The same reference was already used with a different request.".into(),
        ),
        Rejection::NothingToPay
        | Rejection::NonPositiveAmount
        | Rejection::BelowMinimum { .. }
        | Rejection::AboveOutstanding { .. }
        | Rejection::MustEqualOutstanding { .. }
        | Rejection::CurrencyMismatch { .. }
        | Rejection::MixedCurrencies
        | Rejection::BillNotPayable { .. }
        | Rejection::AlreadyReversed
        | Rejection::ReversalAmountMismatch
        | Rejection::ReversalWindowPassed
        | Rejection::CreditAlreadyUsed
        | Rejection::InsufficientCredit { .. }
        | Rejection::TooLarge => ApiError::Forbidden(format!("Refused: {r}.")),
        Rejection::MoneyOnBill { .. } => ApiError::Forbidden(MONEY_ON_BILL.into()),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let Some(r) = e.rejection() {
            from_rejection(r)
        } else if e.is_not_found() {
            ApiError::NotFound("Resource")
        } else if let Some(m) = e.conflict() {
            ApiError::Conflict(m)
        } else if e.is_unavailable() {
            ApiError::Unavailable(Cause::store(e))
        } else {
            ApiError::Internal(Cause::store(e))
        }
    }
}

/// A flow's error inside one store transaction: a store failure answered 500 or 503 carries
/// the store's error, so a lost race is run again and a dead connection healed.
impl TxError for ApiError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => cause.store.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.message())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut b = HttpResponse::build(self.status());
        if let ApiError::TooManyRequests { limit, retry_after } = self {
            b.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            if *limit > 0 {
                b.insert_header(("X-RateLimit-Limit", limit.to_string()));
                b.insert_header(("X-RateLimit-Remaining", "0"));
            }
        }
        b.json(self.body())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_distinct_and_reversible() {
        let mut seen = std::collections::BTreeSet::new();
        for (status, code, name) in BILL_STATUS_CODES {
            assert!(seen.insert(code), "duplicate code {code}");
            assert_eq!(status_code(status), code);
            assert_eq!(status_from_filter(&code.to_string()), Some(status));
            assert_eq!(status_from_filter(name), Some(status));
        }
        assert_eq!(status_code(BillStatus::Active), 2);
        assert_eq!(status_from_filter("void"), Some(BillStatus::Void));
        assert_eq!(status_from_filter("9"), None);
        assert_eq!(type_code(PaymentRule::Exact), 2);
    }

    /// One error of each kind; the match makes a new variant fail to compile here.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::BadRequest("bad".into()),
            ApiError::Unauthenticated,
            ApiError::Forbidden("no".into()),
            ApiError::NotFound("Bill"),
            ApiError::MethodNotAllowed,
            ApiError::Conflict("again".into()),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::Validation(FieldErrors::new()),
            ApiError::TooManyRequests {
                limit: 1,
                retry_after: 1,
            },
            ApiError::Internal(Cause::default()),
            ApiError::Unavailable(Cause::default()),
            ApiError::Timeout,
        ];
        for e in &all {
            match e {
                ApiError::BadRequest(_)
                | ApiError::Unauthenticated
                | ApiError::Forbidden(_)
                | ApiError::NotFound(_)
                | ApiError::MethodNotAllowed
                | ApiError::Conflict(_)
                | ApiError::PayloadTooLarge { .. }
                | ApiError::Validation(_)
                | ApiError::TooManyRequests { .. }
                | ApiError::Internal(_)
                | ApiError::Unavailable(_)
                | ApiError::Timeout => {}
            }
        }
        all
    }

    fn page() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/dialects/collections.md"
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// The cells of the table rows in the section `heading` of the page, up to the next heading.
    fn rows(page: &str, heading: &str) -> Vec<Vec<String>> {
        let start = page.find(heading).unwrap() + heading.len();
        let section = &page[start..];
        let end = section.find("\n#").unwrap_or(section.len());
        section[..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                l.trim_matches('|')
                    .split(" | ")
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .collect()
    }

    fn ticked(cell: &str) -> Vec<String> {
        cell.split(", ")
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect()
    }

    #[test]
    fn error_table_matches_the_dialect_page() {
        let page = page();
        let documented: std::collections::BTreeSet<u16> = rows(&page, "## Errors")
            .iter()
            .filter_map(|r| ticked(&r[0])[0].parse().ok())
            .collect();
        let answered: std::collections::BTreeSet<u16> =
            one_of_each().iter().map(|e| e.status().as_u16()).collect();
        assert_eq!(documented, answered);
        for e in one_of_each() {
            assert!(!e.body().message.is_empty(), "{e:?}");
        }
    }

    #[test]
    fn status_table_matches_the_dialect_page() {
        let page = page();
        let rows: Vec<Vec<String>> = rows(&page, "## Status and type codes")
            .into_iter()
            .filter(|r| r.len() == 4 && ticked(&r[0])[0].parse::<i32>().is_ok())
            .collect();
        assert_eq!(rows.len(), BILL_STATUS_CODES.len());
        for row in rows {
            let code: i32 = ticked(&row[0])[0].parse().unwrap();
            for name in ticked(&row[3]) {
                let status = status_from_filter(&name).unwrap_or_else(|| panic!("{name}"));
                assert_eq!(status_code(status), code, "{name}");
            }
        }
    }

    #[test]
    fn every_rejection_and_refusal_has_an_answer() {
        use billhub_core::Currency;
        for r in [
            Rejection::NotFound,
            Rejection::AlreadyPaid,
            Rejection::Expired,
            Rejection::Void,
            Rejection::NothingToPay,
            Rejection::InconsistentReplay,
            Rejection::CreditAlreadyUsed,
            Rejection::InsufficientCredit { available: 1 },
            Rejection::MoneyOnBill { paid: 1 },
        ] {
            let e = from_rejection(&r);
            assert!(e.status().is_client_error(), "{r:?}");
        }
        for (r, status) in [
            (PatchRefusal::Cancelled, 403),
            (PatchRefusal::PaidCannotCancel, 403),
            (PatchRefusal::CurrencyAfterPayment, 422),
            (PatchRefusal::CurrencyTooPrecise(Currency::JPY), 422),
        ] {
            assert_eq!(ApiError::from_patch_refusal(&r).status().as_u16(), status);
        }
    }

    #[test]
    fn every_plumbing_error_is_json_with_its_status() {
        for p in [
            PlumbingError::PayloadTooLarge { limit: 10 },
            PlumbingError::NotFound,
            PlumbingError::MethodNotAllowed,
            PlumbingError::Timeout,
            PlumbingError::BadRequest("bad".into()),
            PlumbingError::TooManyRequests,
            PlumbingError::Internal,
        ] {
            let e = ApiError::from_plumbing(&p);
            assert_eq!(e.status(), p.status(), "{p:?}");
            assert!(!e.body().message.is_empty());
        }
    }
}
