//! The reversal policy: whether a payment may be undone, and what undoing it takes back.
//!
//! [`may_reverse`] is pure, like [`crate::rules::decide`]: the store calls it inside its write
//! transaction with the freshly read payment and the account's current credit, and applies exactly
//! the returned [`ReversalPlan`]. Finding the payment (by the channel's reference) and answering a
//! repeated reversal request (idempotency) come before it and are the store's.
//!
//! The checks, in the order their refusals win:
//! 1. the payment is the caller's organization's (else `NotFound`, as if it did not exist);
//! 2. the sandbox reverses only sandbox payments (else `NotFound`);
//! 3. the amount the request claims is the payment's (else `ReversalAmountMismatch`);
//! 4. the payment is not reversed already (`AlreadyReversed`);
//! 5. the reversal window, when the channel has one, has not passed (`ReversalWindowPassed`);
//! 6. a payment whose overpayment became account credit is reversed only while that credit is
//!    still there (`CreditAlreadyUsed`): the credit is taken back with it, and the account's
//!    credit never goes negative.

use time::{Duration, OffsetDateTime};

use crate::channel::Channel;
use crate::payment::Payment;
use crate::rules::{Allocation, Rejection};

/// The amount a reversal request claims, to be checked against the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The request names no amount (the sandbox's mock reversal may omit it).
    Nothing,
    /// The payment's amount, minor units (VA).
    Amount(i64),
    /// The payment's amount plus the fee charged on top, minor units (postpaid's
    /// `amountToSendX100` is what the payer handed over).
    AmountWithFee(i64),
}

/// Who asks for the reversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    /// A channel (bank, terminal network) or an operator reversing a payment it found.
    Channel,
    /// The VA sandbox's mock endpoint: it may reverse only payments it made itself.
    Sandbox,
}

/// Everything the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct ReversalCase<'a> {
    /// The payment to undo, as stored.
    pub payment: &'a Payment,
    /// The organization the caller acts for.
    pub organization_id: i64,
    pub requester: Requester,
    pub claimed: Claimed,
    /// How long after `paid_at` a reversal is accepted; `None`: at any time.
    pub window: Option<Duration>,
    /// The payment's account's current credit in the payment's currency, minor units (0 when
    /// the payment has no account).
    pub credit_balance: i64,
}

/// What an accepted reversal undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalPlan {
    pub payment_id: i64,
    /// Each bill gets its allocation back (through the status machine).
    pub undo: Vec<Allocation>,
    /// Account credit to take back (minor units, >= 0): the part of the payment that became
    /// credit; 0 when it created none.
    pub credit: i64,
    /// The account whose credit shrinks by `credit`.
    pub account_id: Option<i64>,
}

/// Decides a reversal. See the module docs for the checks and their order.
pub fn may_reverse(
    case: &ReversalCase<'_>,
    now: OffsetDateTime,
) -> Result<ReversalPlan, Rejection> {
    let payment = case.payment;
    if payment.organization_id != case.organization_id {
        return Err(Rejection::NotFound);
    }
    if case.requester == Requester::Sandbox && !Channel::Sandbox.eq(payment.channel.as_str()) {
        return Err(Rejection::NotFound);
    }
    if !claim_matches(case.claimed, payment) {
        return Err(Rejection::ReversalAmountMismatch);
    }
    if payment.reversed.is_some() {
        return Err(Rejection::AlreadyReversed);
    }
    if let Some(window) = case.window
        && payment
            .paid_at
            .checked_add(window)
            .is_some_and(|end| now > end)
    {
        return Err(Rejection::ReversalWindowPassed);
    }
    let credit = match payment.account_id {
        Some(_) => payment.credit.max(0),
        None => 0,
    };
    if credit > case.credit_balance {
        return Err(Rejection::CreditAlreadyUsed);
    }
    Ok(ReversalPlan {
        payment_id: payment.id,
        undo: payment.allocations.clone(),
        credit,
        account_id: payment.account_id.filter(|_| credit > 0),
    })
}

fn claim_matches(claimed: Claimed, payment: &Payment) -> bool {
    match claimed {
        Claimed::Nothing => true,
        Claimed::Amount(amount) => amount == payment.amount,
        Claimed::AmountWithFee(amount) => payment
            .amount
            .checked_add(payment.fee)
            .is_some_and(|total| total == amount),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::too_many_lines)]
    use super::*;
    use crate::testing::{EPOCH, payment};
    use proptest::prelude::*;

    const DAY: Duration = Duration::days(1);

    fn case(p: &Payment) -> ReversalCase<'_> {
        ReversalCase {
            payment: p,
            organization_id: 1,
            requester: Requester::Channel,
            claimed: Claimed::Amount(p.amount),
            window: None,
            credit_balance: 0,
        }
    }

    #[test]
    fn a_plain_reversal_undoes_the_allocations() {
        let p = payment(7, 1000).build();
        let plan = may_reverse(&case(&p), EPOCH + DAY).unwrap();
        assert_eq!(
            plan,
            ReversalPlan {
                payment_id: 7,
                undo: vec![Allocation {
                    bill_id: 1,
                    amount: 1000
                }],
                credit: 0,
                account_id: None,
            }
        );
    }

    #[test]
    fn refusals_table() {
        let plain = payment(1, 1000).build();
        let other_org = payment(2, 1000).organization(2).build();
        let reversed = payment(3, 1000).reversed(EPOCH).build();
        let sandbox = payment(4, 1000).channel("sandbox").build();
        let with_fee = payment(5, 1000).fee(50).build();
        let with_credit = payment(6, 1500).credit(500).build();
        let now = EPOCH + DAY;
        // (what changes from the plain case, expected)
        type Edit = fn(&mut ReversalCase<'_>);
        let table: Vec<(&Payment, Edit, Result<(), Rejection>)> = vec![
            (&plain, |_| {}, Ok(())),
            (&other_org, |_| {}, Err(Rejection::NotFound)),
            (&plain, |c| c.organization_id = 9, Err(Rejection::NotFound)),
            (
                &plain,
                |c| c.requester = Requester::Sandbox,
                Err(Rejection::NotFound),
            ),
            (&sandbox, |c| c.requester = Requester::Sandbox, Ok(())),
            (&sandbox, |_| {}, Ok(())),
            (
                &plain,
                |c| c.claimed = Claimed::Amount(999),
                Err(Rejection::ReversalAmountMismatch),
            ),
            (&plain, |c| c.claimed = Claimed::Nothing, Ok(())),
            (
                &with_fee,
                |c| c.claimed = Claimed::AmountWithFee(1050),
                Ok(()),
            ),
            (
                &with_fee,
                |c| c.claimed = Claimed::AmountWithFee(1000),
                Err(Rejection::ReversalAmountMismatch),
            ),
            (&with_fee, |c| c.claimed = Claimed::Amount(1000), Ok(())),
            (&reversed, |_| {}, Err(Rejection::AlreadyReversed)),
            // The amount is checked before the reversal: a wrong amount is always "wrong amount".
            (
                &reversed,
                |c| c.claimed = Claimed::Amount(1),
                Err(Rejection::ReversalAmountMismatch),
            ),
            (&plain, |c| c.window = Some(DAY), Ok(())),
            (
                &plain,
                |c| c.window = Some(DAY - Duration::SECOND),
                Err(Rejection::ReversalWindowPassed),
            ),
            (
                &plain,
                |c| c.window = Some(Duration::ZERO),
                Err(Rejection::ReversalWindowPassed),
            ),
            (&plain, |c| c.window = Some(Duration::MAX), Ok(())),
            (
                &reversed,
                |c| c.window = Some(Duration::ZERO),
                Err(Rejection::AlreadyReversed),
            ),
            (&with_credit, |c| c.credit_balance = 500, Ok(())),
            (&with_credit, |c| c.credit_balance = 1200, Ok(())),
            (
                &with_credit,
                |c| c.credit_balance = 499,
                Err(Rejection::CreditAlreadyUsed),
            ),
            (
                &with_credit,
                |c| c.credit_balance = 0,
                Err(Rejection::CreditAlreadyUsed),
            ),
            (
                &with_credit,
                |c| {
                    c.credit_balance = 0;
                    c.window = Some(Duration::ZERO)
                },
                Err(Rejection::ReversalWindowPassed),
            ),
        ];
        for (i, (p, edit, expected)) in table.into_iter().enumerate() {
            let mut c = case(p);
            edit(&mut c);
            assert_eq!(may_reverse(&c, now).map(|_| ()), expected, "row {i}");
        }
    }

    #[test]
    fn credit_is_taken_back_with_the_payment() {
        let p = payment(6, 1500).credit(500).build();
        let mut c = case(&p);
        c.credit_balance = 800;
        let plan = may_reverse(&c, EPOCH).unwrap();
        assert_eq!((plan.credit, plan.account_id), (500, Some(1)));
        assert_eq!(
            plan.undo,
            vec![Allocation {
                bill_id: 1,
                amount: 1000
            }]
        );
        // Without an account there is no credit to take back.
        let p = payment(8, 1500).credit(500).account(None).build();
        let plan = may_reverse(&case(&p), EPOCH).unwrap();
        assert_eq!((plan.credit, plan.account_id), (0, None));
    }

    proptest! {
        /// An accepted reversal never leaves the account's credit negative, and gives back
        /// exactly what the payment applied plus what it left as credit.
        #[test]
        fn never_overdraws_credit(amount in 1i64..1_000_000, credit_part in 0i64..1_000_000, balance in -10i64..2_000_000) {
            let credit = credit_part.min(amount);
            let p = payment(1, amount).credit(credit).build();
            let mut c = case(&p);
            c.credit_balance = balance;
            match may_reverse(&c, EPOCH) {
                Ok(plan) => {
                    prop_assert!(balance - plan.credit >= 0);
                    let undone: i64 = plan.undo.iter().map(|a| a.amount).sum();
                    prop_assert_eq!(undone + plan.credit, amount);
                }
                Err(r) => {
                    prop_assert_eq!(r, Rejection::CreditAlreadyUsed);
                    prop_assert!(balance < credit);
                }
            }
        }
    }
}
