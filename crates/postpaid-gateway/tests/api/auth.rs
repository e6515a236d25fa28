//! Authentication, `Accept`, ping.

use billhub_core::signature::csq;
use billhub_store::testing::TestDb;
use serde_json::{Value, json};

use crate::common::*;

/// ST skew, wrong SH, unknown U, missing headers, and a signature reused on payments.
pub async fn authentication(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let url = env
        .app
        .url(&format!("/post-paid/bill-payment/parameters/3/{}", env.org));
    let with = |u: &str, st: String, sh: String| {
        env.app
            .client
            .get(&url)
            .header("U", u)
            .header("ST", st)
            .header("SH", sh)
    };
    let now = NOW.unix_timestamp();
    let sh = |st: i64| csq::salted_hash(&env.password, &st.to_string());

    let ok = env.send(with(&env.user, now.to_string(), sh(now))).await;
    assert_eq!(ok.status, 200);
    let edge = env
        .send(with(&env.user, (now - 30).to_string(), sh(now - 30)))
        .await;
    assert_eq!(edge.status, 200);
    for st in [now - 31, now + 31] {
        let skew = env.send(with(&env.user, st.to_string(), sh(st))).await;
        assert_eq!(skew.status, 401);
        assert!(assert_refused(&skew.body, "900").contains("away from the server"));
    }
    let wrong = env
        .send(with(&env.user, now.to_string(), sh(now + 1)))
        .await;
    assert_eq!(wrong.status, 401);
    let unknown = env.send(with("nobody", now.to_string(), sh(now))).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, wrong.body);
    let missing = env
        .send(env.app.client.get(&url).header("U", &env.user))
        .await;
    assert_eq!(missing.status, 401);
    assert!(missing.body["message"].as_str().unwrap().contains("ST, SH"));

    // A (U, ST, SH) used on a payment may be used again on one within its window (a network's
    // terminals share one U; payments are idempotent by localReference).
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let pay_url = env
        .app
        .url(&format!("/post-paid/bill-payment/payment/3/{}/50", env.org));
    let (st, shv) = env.sign();
    let send = |body: Value| {
        env.app
            .client
            .post(&pay_url)
            .header("U", &env.user)
            .header("ST", &st)
            .header("SH", &shv)
            .json(&body)
    };
    let first = env.send(send(pay_body("1234567890", &code, 6500))).await;
    assert_refused(&first.body, "927");
    let reused = env.send(send(pay_body("1234567890", &code, 12500))).await;
    assert_eq!(reused.status, 200, "{}", reused.body);
    assert_eq!(reused.body["rc"], 0, "{}", reused.body);
    // Lookups are not payment routes: the same signature may be used again there.
    let lookup_url = env.app.url(&format!(
        "/post-paid/bill-payment/get-invoices/3/{}",
        env.org
    ));
    for _ in 0..2 {
        let a = env
            .send(
                env.app
                    .client
                    .post(&lookup_url)
                    .header("U", &env.user)
                    .header("ST", now.to_string())
                    .header("SH", sh(now))
                    .json(&json!([{ "key": "account", "value": "1234567890" }])),
            )
            .await;
        assert_eq!(a.body["rc"], 0);
    }
    // A network sees only the organizations it is enrolled with.
    let other = env
        .store()
        .create_channel("Elsewhere", "postpaid", NOW)
        .unwrap();
    let st = now.to_string();
    let foreign = env
        .send(
            env.app
                .client
                .get(&url)
                .header("U", other.username.unwrap())
                .header("ST", &st)
                .header("SH", csq::salted_hash(&other.password.unwrap(), &st)),
        )
        .await;
    assert_eq!(foreign.status, 200);
    assert!(assert_refused(&foreign.body, "900").contains("unknown operator"));
}

/// `Accept` other than JSON is 406 with a clear message.
pub async fn not_acceptable(db: TestDb) {
    let env = Env::new(&db).await;
    let url = env
        .app
        .url(&format!("/post-paid/bill-payment/parameters/3/{}", env.org));
    for accept in ["application/encrypt", "json", "text/html"] {
        let a = env
            .send(
                env.signed(env.app.client.get(&url))
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(a.status, 406, "{accept}");
        assert!(
            a.body["message"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
        assert!(a.headers.get("UID").is_some());
    }
    for accept in ["*/*", "application/json; charset=utf-8"] {
        let a = env
            .send(
                env.signed(env.app.client.get(&url))
                    .header("Accept", accept),
            )
            .await;
        assert_eq!(a.status, 200, "{accept}");
    }
    let bare = env
        .send(
            env.app
                .client
                .get(&url)
                .header("U", &env.user)
                .header("ST", NOW.unix_timestamp().to_string())
                .header(
                    "SH",
                    csq::salted_hash(&env.password, &NOW.unix_timestamp().to_string()),
                ),
        )
        .await;
    assert_eq!(bare.status, 200);
}

/// `/ping` and `/ping/{echo}`; credentials are optional there but checked when sent.
pub async fn ping(db: TestDb) {
    let env = Env::new(&db).await;
    let a = env.send(env.app.client.get(env.app.url("/ping"))).await;
    assert_eq!(
        (a.status, a.body),
        (200, json!({"rc": 0, "message": "pong"}))
    );
    let b = env.get("/ping/hello").await;
    assert_eq!(
        (b.status, b.body),
        (200, json!({"rc": 0, "message": "hello"}))
    );
    let c = env
        .send(
            env.app
                .client
                .get(env.app.url("/ping"))
                .header("U", &env.user)
                .header("ST", "1")
                .header("SH", "x"),
        )
        .await;
    assert_eq!(c.status, 401);
}
