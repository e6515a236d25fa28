//! One request, one transaction: with the authentication and settings cache warm, every route
//! costs at most one store transaction, and authentication none.

use billhub_store::testing::TestDb;
use reqwest::RequestBuilder;
use serde_json::{Value, json};

use crate::common::*;

/// Sends `builder` and counts the transactions the request began (nothing else uses the store
/// meanwhile: the test app runs no worker).
async fn measured(env: &Env, builder: RequestBuilder) -> (u64, Answer) {
    let before = env.store().transactions_started();
    let answer = env.send(builder).await;
    let after = env.store().transactions_started();
    (after - before, answer)
}

/// A signed GET of `path`, and what it cost.
async fn get(env: &Env, path: &str) -> (u64, Answer) {
    measured(env, env.signed(env.app.client.get(env.app.url(path)))).await
}

/// A signed POST of `body` to `path`, and what it cost.
async fn post(env: &Env, path: &str, body: &Value) -> (u64, Answer) {
    measured(
        env,
        env.signed(env.app.client.post(env.app.url(path)).json(body)),
    )
    .await
}

/// Asserts a route's cost and success; returns the body.
fn costs(route: &str, (transactions, answer): (u64, Answer), expected: u64) -> Value {
    assert_eq!(answer.status, 200, "{route}: {}", answer.body);
    assert!(
        answer.body.is_null() || answer.body["rc"] == 0,
        "{route}: {}",
        answer.body
    );
    assert_eq!(transactions, expected, "{route}: transactions");
    answer.body
}

/// Every route, its success path (and a replay of each payment and revert), with a warm cache.
pub async fn one_transaction_per_route(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    env.bill(
        "555",
        3000,
        "INV-555",
        time::macros::date!(2025 - 06 - 01),
        time::macros::date!(2025 - 07 - 20),
    );
    let org = env.org;
    // Warm the cache: the network, its password hash, the operator and its settings (a cold
    // cache costs a snapshot for each).
    let (cold, warm_up) = get(&env, &format!("/post-paid/bill-payment/parameters/3/{org}")).await;
    assert_eq!(warm_up.status, 200, "{}", warm_up.body);
    assert!(cold > 1, "a cold cache is read from the store ({cold})");

    for path in [
        format!("/post-paid/bill-payment/parameters/3/{org}"),
        format!("/bill-payment/parameters/3/{org}"),
    ] {
        let body = costs(&path, get(&env, &path).await, 1);
        assert_eq!(body["front"][0]["name"], "account", "{path}");
    }

    let account = json!([{ "key": "account", "value": "1234567890" }]);
    let path = format!("/post-paid/bill-payment/get-invoices/3/{org}");
    let listed = costs(&path, post(&env, &path, &account).await, 1);
    let code = Env::code_of(&listed);
    let other = json!([{ "key": "account", "value": "555" }]);
    let path = format!("/bill-payment/invoices/3/{org}");
    let other_code = Env::code_of(&costs(&path, post(&env, &path, &other).await, 1));

    // Payment, under both paths, and the same request again.
    let path = format!("/post-paid/bill-payment/payment/3/{org}/10");
    let body = pay_body("1234567890", &code, 12500);
    let paid = costs(&path, post(&env, &path, &body).await, 1);
    assert_eq!(paid["items"][0]["resultcode"], "10");
    let replayed = costs(&path, post(&env, &path, &body).await, 1);
    assert_eq!(replayed, paid, "a replay gets the first answer");
    let path = format!("/bill-payment/payment/3/{org}/11");
    let other_paid = costs(
        &path,
        post(&env, &path, &pay_body("555", &other_code, 3000)).await,
        1,
    );
    assert_eq!(other_paid["items"][0]["resultcode"], "10");

    // Revert, and the same revert again.
    let path = format!("/util/revert/3/{org}/12");
    let body = revert_body(12500, 10, "1234567890");
    let reverted = costs(&path, post(&env, &path, &body).await, 1);
    assert_eq!(reverted["items"][0]["resultcode"], "20");
    assert_eq!(costs(&path, post(&env, &path, &body).await, 1), reverted);

    let path = "/util/transaction/info/3/10/20250703";
    let (spent, info) = get(&env, path).await;
    assert_eq!(spent, 1, "{path}: transactions");
    assert_eq!(info.body["rc"], -1, "{}", info.body);
    assert_eq!(info.body["items"][0]["resultcode"], "20");

    // Ping: no store work, signed or not.
    for path in ["/ping", "/ping/hello"] {
        costs(path, get(&env, path).await, 0);
        costs(
            path,
            measured(&env, env.app.client.get(env.app.url(path))).await,
            0,
        );
    }
}
