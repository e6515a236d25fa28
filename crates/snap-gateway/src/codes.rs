//! SNAP's `responseCode`: HTTP status (3 digits) + service code (2) + case code (2), e.g.
//! `2002400` (inquiry, successful) or `4042514` (payment, paid bill). The HTTP status of an
//! answer is always the code's first three digits.
//!
//! [`TABLE`] is every case billhub answers, with its status, case digits and message; core's
//! rejections and the plumbing's failures are mapped onto it exhaustively here, and a test holds
//! the table against `docs/dialects/snap.md`.

use billhub_core::Rejection;
use billhub_http::PlumbingError;

/// The service a route belongs to: the code's middle two digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// No route matched (the plumbing's 404, 405, 413...): `00`.
    General,
    /// `POST /v1.0/access-token/b2b`: `73`.
    Token,
    /// `POST /v1.0/transfer-va/inquiry`: `24`.
    Inquiry,
    /// `POST /v1.0/transfer-va/payment`: `25`.
    Payment,
    /// `POST /v1.0/transfer-va/status`: `26`.
    Status,
}

impl Service {
    pub fn digits(self) -> &'static str {
        match self {
            Service::General => "00",
            Service::Token => "73",
            Service::Inquiry => "24",
            Service::Payment => "25",
            Service::Status => "26",
        }
    }
}

/// A case of the standard's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Success,
    BadRequest,
    InvalidFieldFormat,
    MissingField,
    Unauthorized,
    InvalidToken,
    TransactionNotFound,
    BillNotFound,
    InvalidAmount,
    PaidBill,
    ExpiredBill,
    NoSuchEndpoint,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    TooManyRequests,
    GeneralError,
    Timeout,
}

/// (case, HTTP status, case digits, message). A message ending in a field or reason gets it
/// appended after a space (`Invalid Mandatory Field [X-SIGNATURE]`).
pub const TABLE: [(Case, u16, &str, &str); 18] = [
    (Case::Success, 200, "00", "Successful"),
    (Case::BadRequest, 400, "00", "Bad Request"),
    (Case::InvalidFieldFormat, 400, "01", "Invalid Field Format"),
    (Case::MissingField, 400, "02", "Invalid Mandatory Field"),
    (Case::Unauthorized, 401, "00", "Unauthorized."),
    (Case::InvalidToken, 401, "01", "Invalid Token (B2B)"),
    (
        Case::TransactionNotFound,
        404,
        "01",
        "Transaction Not Found",
    ),
    (
        Case::BillNotFound,
        404,
        "12",
        "Invalid Bill/Virtual Account [Not Found]",
    ),
    (Case::InvalidAmount, 404, "13", "Invalid Amount"),
    (Case::PaidBill, 404, "14", "Paid Bill"),
    (
        Case::ExpiredBill,
        404,
        "19",
        "Invalid Bill/Virtual Account [Expired]",
    ),
    (Case::NoSuchEndpoint, 404, "00", "Not Found"),
    (Case::MethodNotAllowed, 405, "00", "Method Not Allowed"),
    (Case::Conflict, 409, "00", "Conflict"),
    (Case::PayloadTooLarge, 413, "00", "Request Entity Too Large"),
    (Case::TooManyRequests, 429, "00", "Too Many Requests"),
    (Case::GeneralError, 500, "00", "General Error"),
    (Case::Timeout, 504, "00", "Timeout"),
];

fn row(case: Case) -> (u16, &'static str, &'static str) {
    TABLE
        .iter()
        .find(|(c, ..)| *c == case)
        .map_or((500, "00", "General Error"), |(_, s, d, m)| (*s, *d, *m))
}

impl Case {
    pub fn status(self) -> u16 {
        row(self).0
    }

    pub fn message(self) -> &'static str {
        row(self).2
    }

    /// The seven-digit `responseCode` of this case on `service`.
    pub fn code(self, service: Service) -> String {
        let (status, digits, _) = row(self);
        format!("{status}{}{digits}", service.digits())
    }
}

/// A core rejection in SNAP's terms: the case and the reason shown after its message.
///
/// A reused `paymentRequestId` with other content is answered `400xx00` Bad Request, never
/// `404xx18` Inconsistent Request: the standard tells banks to book some VA payment codes
/// (`404xx18` among them) as successful, and this payment was not made.
pub fn from_rejection(rejection: &Rejection) -> (Case, String) {
    let case = match rejection {
        Rejection::NotFound | Rejection::Void | Rejection::BillNotPayable { .. } => {
            Case::BillNotFound
        }
        Rejection::AlreadyPaid | Rejection::NothingToPay => Case::PaidBill,
        Rejection::Expired => Case::ExpiredBill,
        Rejection::NonPositiveAmount
        | Rejection::BelowMinimum { .. }
        | Rejection::AboveOutstanding { .. }
        | Rejection::MustEqualOutstanding { .. }
        | Rejection::CurrencyMismatch { .. }
        | Rejection::MixedCurrencies
        | Rejection::TooLarge => Case::InvalidAmount,
        Rejection::InconsistentReplay => {
            return (
                Case::BadRequest,
                "paymentRequestId was already used with other content; this payment is not made"
                    .into(),
            );
        }
        Rejection::AlreadyReversed
        | Rejection::ReversalAmountMismatch
        | Rejection::ReversalWindowPassed
        | Rejection::CreditAlreadyUsed
        | Rejection::InsufficientCredit { .. }
        | Rejection::MoneyOnBill { .. } => Case::BadRequest,
    };
    (case, rejection.to_string())
}

/// A plumbing failure's case.
pub fn from_plumbing(err: &PlumbingError) -> Case {
    match err {
        PlumbingError::PayloadTooLarge { .. } => Case::PayloadTooLarge,
        PlumbingError::NotFound => Case::NoSuchEndpoint,
        PlumbingError::MethodNotAllowed => Case::MethodNotAllowed,
        PlumbingError::Timeout => Case::Timeout,
        PlumbingError::BadRequest(_) => Case::BadRequest,
        PlumbingError::TooManyRequests => Case::TooManyRequests,
        PlumbingError::Internal => Case::GeneralError,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_status_service_case() {
        assert_eq!(Case::Success.code(Service::Token), "2007300");
        assert_eq!(Case::Success.code(Service::Inquiry), "2002400");
        assert_eq!(Case::Success.code(Service::Payment), "2002500");
        assert_eq!(Case::Success.code(Service::Status), "2002600");
        assert_eq!(Case::Unauthorized.code(Service::Inquiry), "4012400");
        assert_eq!(Case::InvalidToken.code(Service::Payment), "4012501");
        assert_eq!(Case::InvalidFieldFormat.code(Service::Payment), "4002501");
        assert_eq!(Case::MissingField.code(Service::Inquiry), "4002402");
        assert_eq!(Case::BillNotFound.code(Service::Inquiry), "4042412");
        assert_eq!(Case::InvalidAmount.code(Service::Payment), "4042513");
        assert_eq!(Case::PaidBill.code(Service::Payment), "4042514");
        assert_eq!(Case::ExpiredBill.code(Service::Inquiry), "4042419");
        assert_eq!(Case::Conflict.code(Service::Payment), "4092500");
        assert_eq!(Case::GeneralError.code(Service::Status), "5002600");
        for (case, status, digits, _) in TABLE {
            let code = case.code(Service::Payment);
            assert_eq!(code.len(), 7);
            assert_eq!(code.get(..3), Some(status.to_string().as_str()));
            assert_eq!(code.get(5..), Some(digits));
        }
    }

    #[test]
    fn an_inconsistent_payment_is_never_a_code_banks_book_as_paid() {
        let (case, _) = from_rejection(&Rejection::InconsistentReplay);
        let code = case.code(Service::Payment);
        assert_eq!(code, "4002500");
        assert_ne!(code, "4042518");
        assert!(!code.starts_with('2'));
    }

    /// The table in docs/dialects/snap.md is this table: same rows, same order.
    #[test]
    fn the_dialect_page_shows_this_table() {
        let page = include_str!("../../../docs/dialects/snap.md");
        let start = page
            .find("| HTTP | case | message | when |")
            .expect("the codes table");
        let rows: Vec<(u16, String, String)> = page
            .get(start..)
            .unwrap_or_default()
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (
                    cells[1].parse().unwrap(),
                    cells[2].to_string(),
                    cells[3].to_string(),
                )
            })
            .collect();
        let expected: Vec<(u16, String, String)> = TABLE
            .iter()
            .map(|(_, status, digits, message)| (*status, digits.to_string(), message.to_string()))
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn every_case_is_in_the_table_once() {
        for (case, ..) in TABLE {
            assert_eq!(TABLE.iter().filter(|(c, ..)| *c == case).count(), 1);
        }
    }
}
