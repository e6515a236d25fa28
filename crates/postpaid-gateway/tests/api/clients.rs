//! Issue 11: what live CSQ terminals send, billhub takes, and answers as they read it (keyed on
//! `rc`). Each test replays the terminal's requests as sent: the same headers, JSON types and
//! number forms.

use billhub_store::testing::TestDb;
use serde_json::{Value, json};
use time::Duration;
use time::macros::date;

use crate::common::*;

/// A request signed with the given `(ST, SH)`, as a terminal of the network sends it.
fn with_salt(
    env: &Env,
    builder: reqwest::RequestBuilder,
    (st, sh): &(String, String),
) -> reqwest::RequestBuilder {
    builder
        .header("U", &env.user)
        .header("ST", st)
        .header("SH", sh)
        .header("Accept", "application/json")
}

fn pay_url(env: &Env, terminal: i64, reference: &str) -> String {
    env.app.url(&format!(
        "/post-paid/bill-payment/payment/{terminal}/{}/{reference}",
        env.org
    ))
}

fn lookup_url(env: &Env, terminal: i64) -> String {
    env.app.url(&format!(
        "/post-paid/bill-payment/get-invoices/{terminal}/{}",
        env.org
    ))
}

/// How many salts are recorded (a purge as of far in the future counts them all).
fn recorded_salts(env: &Env) -> usize {
    env.store()
        .purge_expired_nonces(NOW + Duration::days(1))
        .unwrap()
}

/// A network of terminals sharing one `U` pays several times per second; a terminal's retry
/// with identical headers before its first answer gets that answer; reverts stay single-use;
/// lookups and payments record no salt.
pub async fn salts_reused_within_window(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    env.bill(
        "555",
        3000,
        "INV-555",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 20),
    );
    // One second, one (ST, SH), two terminals: both look up and both pay.
    let salt = env.sign();
    let account = |a: &str| json!([{ "key": "account", "value": a }]);
    let mut codes = Vec::new();
    for (terminal, a) in [(3, "1234567890"), (4, "555")] {
        let listed = env
            .send(with_salt(
                &env,
                env.app
                    .client
                    .post(lookup_url(&env, terminal))
                    .json(&account(a)),
                &salt,
            ))
            .await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert_eq!(listed.body["rc"], 0, "{}", listed.body);
        codes.push(Env::code_of(&listed.body));
    }
    let first = env
        .send(with_salt(
            &env,
            env.app.client.post(pay_url(&env, 3, "100")).json(&pay_body(
                "1234567890",
                &codes[0],
                12500,
            )),
            &salt,
        ))
        .await;
    let second = env
        .send(with_salt(
            &env,
            env.app
                .client
                .post(pay_url(&env, 4, "100"))
                .json(&pay_body("555", &codes[1], 3000)),
            &salt,
        ))
        .await;
    for (a, amount) in [(&first, 12500), (&second, 3000)] {
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["rc"], 0, "{}", a.body);
        assert_eq!(a.body["items"][0]["resultcode"], "10");
        assert_eq!(a.body["items"][0]["finalstatus"], 10);
        assert_eq!(a.body["items"][0]["destinationamount"], amount);
    }
    assert_ne!(
        first.body["items"][0]["supplierreference"],
        second.body["items"][0]["supplierreference"]
    );
    assert_eq!(
        recorded_salts(&env),
        0,
        "lookups and payments record no salt"
    );

    // A retry with identical headers and body before the first answer: both get the one
    // payment.
    env.bill(
        "777",
        4000,
        "INV-777",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 20),
    );
    let listed = env
        .send(with_salt(
            &env,
            env.app
                .client
                .post(lookup_url(&env, 5))
                .json(&account("777")),
            &salt,
        ))
        .await;
    let code = Env::code_of(&listed.body);
    let body = pay_body("777", &code, 4000);
    let send = || {
        env.send(with_salt(
            &env,
            env.app.client.post(pay_url(&env, 5, "7")).json(&body),
            &salt,
        ))
    };
    let (a, b) = tokio::join!(send(), send());
    for x in [&a, &b] {
        assert_eq!(x.status, 200, "{}", x.body);
        assert_eq!(x.body["rc"], 0, "{}", x.body);
    }
    assert_eq!(a.body, b.body, "one payment, one answer");
    assert_eq!(send().await.body, a.body);
    let info = env
        .send(with_salt(
            &env,
            env.app
                .client
                .get(env.app.url("/util/transaction/info/5/7/20250703")),
            &salt,
        ))
        .await;
    assert_eq!(info.body, a.body);

    // Reverts: a salt reverts once. (A salt used on payments may still revert: payments do
    // not record it.)
    let revert = |reference: &str, original: i64, account: &str, amount: i64| {
        env.send(with_salt(
            &env,
            env.app
                .client
                .post(
                    env.app
                        .url(&format!("/util/revert/3/{}/{reference}", env.org)),
                )
                .json(&revert_body(amount, original, account)),
            &salt,
        ))
    };
    let reverted = revert("200", 100, "1234567890", 12500).await;
    assert_eq!(reverted.status, 200, "{}", reverted.body);
    assert_eq!(reverted.body["rc"], 0, "{}", reverted.body);
    assert_eq!(recorded_salts(&env), 1, "a revert records its salt");
    // (The purge above removed it; record it again with a fresh revert salt.)
    let again_salt = env.sign();
    let revert_with = |reference: &str| {
        env.send(with_salt(
            &env,
            env.app
                .client
                .post(
                    env.app
                        .url(&format!("/util/revert/4/{}/{reference}", env.org)),
                )
                .json(&revert_body(3000, 100, "555")),
            &again_salt,
        ))
    };
    let ok = revert_with("201").await;
    assert_eq!(ok.body["rc"], 0, "{}", ok.body);
    let refused = revert_with("202").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_eq!(refused.body["rc"], -1);
    assert!(
        assert_refused(&refused.body, "900").contains("already used for a revert"),
        "{}",
        refused.body
    );
    // The very same revert again is recognised before its salt: its first answer.
    let same = revert_with("201").await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.body, ok.body);
}

/// `csq.single_use_salts=all`: every route uses its salt once; a repeat of a recorded payment
/// still gets its first answer.
pub async fn single_use_salts_everywhere(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    env.store()
        .set_channel_setting(env.channel, "csq.single_use_salts", "all", NOW)
        .unwrap();
    let salt = env.sign();
    let lookup = || {
        env.send(with_salt(
            &env,
            env.app
                .client
                .post(lookup_url(&env, 3))
                .json(&json!([{ "key": "account", "value": "1234567890" }])),
            &salt,
        ))
    };
    let listed = lookup().await;
    assert_eq!(listed.body["rc"], 0, "{}", listed.body);
    let again = lookup().await;
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(assert_refused(&again.body, "900").contains("csq.single_use_salts=all"));
    for path in [
        format!("/post-paid/bill-payment/parameters/3/{}", env.org),
        "/util/transaction/info/3/1/20250703".to_string(),
        "/ping".to_string(),
    ] {
        let a = env
            .send(with_salt(
                &env,
                env.app.client.get(env.app.url(&path)),
                &salt,
            ))
            .await;
        assert_eq!(a.status, 401, "{path}: {}", a.body);
    }
    // A fresh salt pays; the same request again (same headers) gets its first answer; another
    // payment under that salt is refused.
    let code = Env::code_of(&listed.body);
    let pay_salt = env.sign();
    let body = pay_body("1234567890", &code, 12500);
    let pay = |reference: &str, body: &Value| {
        env.send(with_salt(
            &env,
            env.app.client.post(pay_url(&env, 3, reference)).json(body),
            &pay_salt,
        ))
    };
    let paid = pay("10", &body).await;
    assert_eq!(paid.body["rc"], 0, "{}", paid.body);
    let repeat = pay("10", &body).await;
    assert_eq!(repeat.status, 200);
    assert_eq!(repeat.body, paid.body);
    let other = pay("11", &body).await;
    assert_eq!(other.status, 401, "{}", other.body);
    // Ping with a fresh salt: once.
    let ping_salt = env.sign();
    let ping = || {
        env.send(with_salt(
            &env,
            env.app.client.get(env.app.url("/ping")),
            &ping_salt,
        ))
    };
    assert_eq!(ping().await.body, json!({"rc": 0, "message": "pong"}));
    assert_eq!(ping().await.status, 401);
    // Back to the default: lookups reuse salts again.
    env.store()
        .set_channel_setting(env.channel, "csq.single_use_salts", "reverts", NOW)
        .unwrap();
    assert_eq!(ping().await.status, 200);
    assert_eq!(ping().await.status, 200);
}

/// Get Invoices names the payment type twice: `type` (the schema) and `paymentType` (the
/// example); a reverted payment's transaction info is `rc -1`; refusals carry `finalstatus -1`.
pub async fn answers_as_clients_read(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["type"], "TOTAL", "{listed}");
    assert_eq!(listed["paymentType"], "TOTAL", "{listed}");
    let code = Env::code_of(&listed);
    let paid = env
        .pay(3, "30", &pay_body("1234567890", &code, 12500))
        .await;
    assert_eq!(paid["rc"], 0);
    let info = env.get("/util/transaction/info/3/30/20250703").await;
    assert_eq!(info.body, paid);
    let reverted = env
        .revert(3, "31", &revert_body(12500, 30, "1234567890"))
        .await;
    assert_eq!(reverted["rc"], 0);
    for date in ["20250703", "03072025"] {
        let info = env
            .get(&format!("/util/transaction/info/3/30/{date}"))
            .await;
        assert_eq!(info.status, 200);
        let item = &info.body["items"][0];
        assert_eq!(info.body["rc"], -1, "{}", info.body);
        assert_eq!(item["resultcode"], "20");
        assert_eq!(item["finalstatus"], 20);
        assert_eq!(item["resultmessage"], "Transaction reverted");
        assert_eq!(
            item["supplierreference"],
            paid["items"][0]["supplierreference"]
        );
    }
    // A refusal as live CSQ answers it.
    let refused = env
        .pay(3, "32", &pay_body("1234567890", &code, 12500))
        .await;
    assert_eq!(refused["rc"], -1);
    let item = &refused["items"][0];
    assert_eq!(item["finalstatus"], -1);
    assert_eq!(item["resultcode"], "11");
    assert_eq!(item["supplierreference"], "");
    assert_eq!(item["suppliertoken"], "");
}

/// A terminal that echoes step 2's answer into `additionalData` pays; the echoed keys are
/// neither refused nor part of the request's fingerprint.
pub async fn echoed_additional_data(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.fields", SEED_FIELDS);
    seed_bills(&env);
    let listed = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/3/{}", env.org),
            &json!([
                { "key": "card_code", "value": "1234567890" },
                { "key": "installments_to_pay", "value": "2" }
            ]),
        )
        .await
        .body;
    let code = Env::code_of(&listed);
    let pay = |body: Value| {
        let path = format!("/post-paid/bill-payment/payment/3/{}/40", env.org);
        let env = &env;
        async move { env.post(&path, &body).await }
    };
    let echoed = json!({
        "amountToSendX100": 12500,
        "localDateTime": "2025-07-03T11:00:00Z",
        "additionalData": [
            { "key": "card_code", "value": "1234567890" },
            { "key": "installments_to_pay", "value": 2 },
            { "key": "transaction_code", "value": code },
            { "key": "pendingInvoices", "value": 2 },
            { "key": "paymentType", "value": "TOTAL" },
            { "key": "items", "value": listed["items"].clone() },
            { "key": "note", "value": null },
            { "key": "pendingInvoices", "value": "2" }
        ]
    });
    let paid = pay(echoed).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(paid.body["rc"], 0, "{}", paid.body);
    assert_eq!(paid.body["items"][0]["destinationamount"], 12500);
    // The same payment without the echoes, or with other echoes: the same request.
    let plain = json!({
        "amountToSendX100": 12500,
        "localDateTime": "2025-07-03T11:00:00Z",
        "additionalData": [
            { "key": "transaction_code", "value": code },
            { "key": "card_code", "value": "1234567890" },
            { "key": "installments_to_pay", "value": "2" }
        ]
    });
    assert_eq!(pay(plain.clone()).await.body, paid.body);
    let mut other_echo = plain.clone();
    other_echo["additionalData"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "key": "message", "value": "Pending invoices retrieved successfully" }));
    assert_eq!(pay(other_echo).await.body, paid.body);
    // A pay field that differs is another request: 12.
    let mut changed = plain.clone();
    changed["additionalData"][2]["value"] = json!("1");
    assert_refused(&pay(changed).await.body, "12");
    // A pay field that does not read is still refused, and so is an item without a key.
    for bad in [
        json!({ "key": "card_code", "value": null }),
        json!({ "value": "x" }),
    ] {
        let mut body = plain.clone();
        body["additionalData"][1] = bad;
        let path = format!("/post-paid/bill-payment/payment/3/{}/41", env.org);
        let a = env.post(&path, &body).await;
        assert!(
            assert_refused(&a.body, "900").contains("additionalData[1]"),
            "{}",
            a.body
        );
    }
}

/// Amounts as Java writes doubles (`1.0E7`, `12500.0`) are read exactly, on payments and
/// reverts; a fraction or an amount beyond int32 in that form is 900.
pub async fn exponent_form_amounts(db: TestDb) {
    let env = Env::new(&db).await;
    env.bill(
        "JAVA1",
        10_000_000,
        "INV-J1",
        date!(2025 - 06 - 01),
        date!(2025 - 07 - 20),
    );
    let code = Env::code_of(&env.lookup(3, "JAVA1").await);
    let raw = |reference: &str, text: String| {
        env.send(
            env.signed(
                env.app
                    .client
                    .post(pay_url(&env, 3, reference))
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json")
                    .body(text),
            ),
        )
    };
    let body = |amount: &str| {
        format!(
            r#"{{"amountToSendX100":{amount},"destinationAmountX100":0.0,"localDateTime":"2025-07-03T11:00:00Z","additionalData":[{{"key":"account","value":"JAVA1"}},{{"key":"transaction_code","value":"{code}"}}]}}"#
        )
    };
    for (amount, why) in [
        ("1.00000005E7", "not whole"),
        ("2.147483648E9", "int32"),
        ("1.0E10", "int32"),
    ] {
        let a = raw("50", body(amount)).await;
        assert_eq!(a.status, 200);
        let msg = assert_refused(&a.body, "900");
        assert!(msg.contains("amountToSendX100"), "{amount} ({why}): {msg}");
    }
    let paid = raw("50", body("1.0E7")).await;
    assert_eq!(paid.body["rc"], 0, "{}", paid.body);
    assert_eq!(paid.body["items"][0]["destinationamount"], 10_000_000);
    // The same payment written as an integer or `10000000.0`: the same request.
    for same in ["10000000", "10000000.0", "1E+7"] {
        assert_eq!(raw("50", body(same)).await.body, paid.body, "{same}");
    }
    // A revert carrying the amount in exponent form.
    let revert = env
        .send(
            env.signed(
                env.app
                    .client
                    .post(env.app.url(&format!("/util/revert/3/{}/51", env.org)))
                    .header("Content-Type", "application/json")
                    .body(
                        r#"{"amountToSendX100":1.0E7,"localDateTime":"2025-07-03T12:00:00Z","account":"JAVA1","originalLocalReference":50,"originalLocalDate":"2025-07-03"}"#,
                    ),
            ),
        )
        .await;
    assert_eq!(revert.body["rc"], 0, "{}", revert.body);
    assert_eq!(revert.body["items"][0]["resultcode"], "20");
}
