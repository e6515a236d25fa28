//! Copies of one payment sent at once, as a terminal retrying on a timeout does (issue 10,
//! defect 16): the same `localReference`, body and `(U, ST, SH)`. Every copy gets the first
//! answer and one payment is stored.

use billhub_store::testing::TestDb;
use serde_json::Value;

use crate::common::*;

/// How many copies race (the long form of the duplicates suite sends more).
const COPIES: usize = 16;

/// `COPIES` identical requests (one signature for all, as a retry resends its headers), sent
/// at once; their answers in sending order.
async fn copies_at_once(env: &Env, path: &str, body: &Value) -> Vec<Answer> {
    let (st, sh) = env.sign();
    let handles: Vec<_> = (0..COPIES)
        .map(|_| {
            let request = env
                .app
                .client
                .post(env.app.url(path))
                .json(body)
                .header("Accept", "application/json")
                .header("U", &env.user)
                .header("ST", &st)
                .header("SH", &sh);
            actix_web::rt::spawn(async move {
                let resp = request.send().await.unwrap();
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let text = resp.text().await.unwrap();
                let body: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
                Answer {
                    status,
                    headers,
                    body,
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(COPIES);
    for h in handles {
        answers.push(h.await.unwrap());
    }
    answers
}

/// Every copy of one payment answers as the first did: rc 0, the same payment; one stored.
pub async fn concurrent_copies_of_one_payment(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let body = pay_body("1234567890", &code, 12500);
    let path = format!("/post-paid/bill-payment/payment/3/{}/77", env.org);
    let answers = copies_at_once(&env, &path, &body).await;

    let first = &answers[0];
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["rc"], 0, "{}", first.body);
    assert_eq!(first.body["items"][0]["resultcode"], "10", "{}", first.body);
    assert_eq!(first.body["items"][0]["destinationamount"], 12500);
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            (a.status, &a.body),
            (first.status, &first.body),
            "copy {i} answered otherwise"
        );
    }
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    let payments = env.store().payments_of_account(acc.id).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].channel_ref, "3:77:2025-07-03");
    assert_eq!(payments[0].amount, 12500);
    assert_eq!(
        first.body["items"][0]["supplierreference"],
        payments[0].uid.as_str()
    );
    for b in env.store().bills_of_account(acc.id).unwrap() {
        assert_eq!(b.paid, b.billed);
    }
    // A later copy, signed anew, still gets the first answer.
    let again = env.pay(3, "77", &body).await;
    assert_eq!(again, first.body);
}

billhub_http::http_backend_tests!(concurrent_copies_of_one_payment);
