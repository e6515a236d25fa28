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
//! Every one of them is answered with HTTP 200; only authentication (401) and `Accept` (406)
//! use HTTP statuses (see `docs/dialects/postpaid.md`).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use billhub_core::{Currency, Rejection};
use billhub_store::StoreError;
use billhub_store::postpaid::CodeProblem;

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
            _ => -1,
        }
    }
}

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
                finalstatus: self.code.number(),
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
fn x100_text(minor: i64, currency: Currency) -> String {
    to_x100(minor, currency)
        .map(|v| v.to_string())
        .unwrap_or_else(|| format!("{minor} minor units"))
}

/// A core refusal. `fee` (minor units) is added to the amounts named, since the terminal sends
/// amounts fee included.
pub fn from_rejection(rejection: &Rejection, fee: i64, currency: Currency) -> Refusal {
    let refusal = match rejection {
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
        Rejection::MustEqualOutstanding { outstanding } => Refusal::wrong_amount(format!(
            "Wrong amount: it must be exactly {} (X100, service fee included)",
            x100_text(outstanding + fee, currency)
        )),
        Rejection::AboveOutstanding { outstanding } => Refusal::wrong_amount(format!(
            "Wrong amount: it must not exceed {} (X100, service fee included)",
            x100_text(outstanding + fee, currency)
        )),
        Rejection::BelowMinimum { minimum } => Refusal::wrong_amount(format!(
            "Wrong amount: it must be at least {} (X100, service fee included)",
            x100_text(minimum + fee, currency)
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
    };
    refusal.with_currency(currency)
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

/// A store failure: a core refusal is mapped; anything else is logged with its cause and
/// answered as a system error.
pub fn from_store(err: &StoreError, fee: i64, currency: Currency, what: &str) -> Refusal {
    match err {
        StoreError::Rejected(r) => from_rejection(r, fee, currency),
        other => system_error(other, what),
    }
}

/// Logs an internal failure and returns the generic system error.
pub fn system_error(err: &dyn std::fmt::Display, what: &str) -> Refusal {
    tracing::error!(error = %err, during = what, "postpaid: internal error");
    Refusal::system()
}

#[cfg(test)]
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
        assert_eq!(body["items"][0]["finalstatus"], 900);
        assert_eq!(body["items"][0]["resultcode"], "900");
    }
}
