//! One request, one transaction: with a warm authentication cache, every route (its success
//! path; a create also replayed with its `Idempotency-Key`) costs exactly one store
//! transaction, and the callback renderer one snapshot per render. Nothing else runs against
//! the store meanwhile (the test app starts no worker).

use billhub_http::Notifier;

use super::*;

billhub_http::http_backend_tests!(
    every_route_costs_one_transaction,
    a_callback_render_costs_one_snapshot,
);

/// What one request cost and what it answered.
struct Measured {
    transactions: u64,
    answer: Answer,
}

impl Env {
    /// Sends one request as merchant A and counts the store transactions it began.
    async fn measure(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Measured {
        let before = self.db.transactions_started();
        let answer = self
            .call(method, path, Some(&self.a.token), body, headers)
            .await;
        let transactions = self.db.transactions_started() - before;
        eprintln!("{method} {path}: {transactions} transaction(s)");
        Measured {
            transactions,
            answer,
        }
    }

    /// Asserts the request costs one transaction and answers 200; returns the body.
    async fn one(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.one_with(method, path, body, &[])
            .await
            .answer
            .ok()
            .clone()
    }

    async fn one_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Measured {
        let m = self.measure(method, path, body, headers).await;
        assert_eq!(
            m.transactions, 1,
            "{method} {path} answered {} {}",
            m.answer.status, m.answer.text
        );
        m
    }

    /// A create with an `Idempotency-Key`, then the same request again: one transaction each,
    /// the second the stored first answer.
    async fn create_and_replay(&self, path: &str, body: &Value, key: &str) -> Value {
        let key = [("Idempotency-Key", key)];
        let first = self.one_with("POST", path, Some(body), &key).await.answer;
        let created = first.ok().clone();
        assert!(first.headers.get("idempotent-replayed").is_none());
        let again = self.one_with("POST", path, Some(body), &key).await.answer;
        assert_eq!(again.status, 200);
        assert_eq!(again.text, first.text);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        created
    }
}

async fn every_route_costs_one_transaction(db: TestDb) {
    let env = setup(db).await;
    // Warms the cache (the token, the organization with its settings): a cold cache costs
    // reads for authentication, a warm one none.
    let cold = env.measure("GET", "/api/collections", None, &[]).await;
    cold.answer.ok();
    assert!(cold.transactions > 1, "{}", cold.transactions);

    collection_routes(&env).await;
    let code = env.collection("Bills", None).await;
    bill_routes(&env, &code).await;
    product_routes(&env).await;
    customer_routes(&env).await;
}

async fn collection_routes(env: &Env) {
    let c = env
        .create_and_replay("/api/collections", &json!({"name": "Yuran"}), "tx-col")
        .await;
    let code = c["code"].as_str().unwrap();
    let path = format!("/api/collections/{code}");
    let list = env.one("GET", "/api/collections", None).await;
    assert_eq!(list["total"], 1);
    assert_eq!(env.one("GET", &path, None).await["code"], code);
    let with_org = env
        .one("GET", &format!("{path}?include=organization"), None)
        .await;
    assert!(with_org["organization"].is_object());
    let patched = env
        .one("PATCH", &path, Some(&json!({"name": "Yuran 2027"})))
        .await;
    assert_eq!(patched["name"], "Yuran 2027");
}

async fn bill_routes(env: &Env, code: &str) {
    let bills = bills_path(code);
    let body = bill_body("TX-1", "", json!("10.00"), json!(2));
    let bill = env.create_and_replay(&bills, &body, "tx-bill").await;
    assert_eq!(bill["total_amount"], "20.00");
    let path = bill_path(code, &bill);
    let list = env.one("GET", &bills, None).await;
    assert_eq!(list["total"], 1);
    let got = env
        .one("GET", &format!("{path}?include=account,payments"), None)
        .await;
    assert_eq!(got["bill_no"], bill["bill_no"]);
    let patched = env
        .one("PATCH", &path, Some(&json!({"ref2": "receipt"})))
        .await;
    assert_eq!(patched["ref2"], "receipt");
    env.pay(bill["id"].as_i64().unwrap(), "SBX-TX-1", "20.00");
    let txs = env.one("GET", &format!("{path}/transactions"), None).await;
    assert_eq!(txs["total"], 1);
    assert_eq!(txs["data"][0]["ref_id"], "SBX-TX-1");
    let tx = env
        .one("GET", &format!("{path}/transactions/SBX-TX-1"), None)
        .await;
    assert_eq!(tx["ref_id"], "SBX-TX-1");
    // A bad draft naming an unknown catalogue product: one snapshot for the whole refusal.
    let mut bad = bill_body("TX-2", "", json!("10.00"), json!(0));
    bad["product"][0]["id"] = json!(999_999);
    let m = env.one_with("POST", &bills, Some(&bad), &[]).await;
    m.answer.invalid(&["product.0.quantity", "product.0.id"]);
}

async fn product_routes(env: &Env) {
    let p = env
        .create_and_replay(
            "/api/products",
            &json!({"title": "Yuran Bulanan", "code": "YB", "price": 10}),
            "tx-product",
        )
        .await;
    let path = format!("/api/products/{}", p["id"]);
    // The bill's line made a catalogue product too.
    let list = env
        .one("GET", "/api/products?filter[title]=bulanan", None)
        .await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0], p);
    assert_eq!(env.one("GET", &path, None).await, p);
    let patched = env
        .one("PATCH", &path, Some(&json!({"price": "12.5"})))
        .await;
    assert_eq!(patched["price"], "12.50");
    let deleted = env.one("DELETE", &path, None).await;
    assert_eq!(deleted["message"], "Product deleted.");
}

async fn customer_routes(env: &Env) {
    let c = env
        .create_and_replay(
            "/api/customers",
            &json!({"acc_no": "TX-CUST", "first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "60123456789"}),
            "tx-customer",
        )
        .await;
    let path = format!("/api/customers/{}", c["id"]);
    // The bill's customer and this one.
    assert_eq!(env.one("GET", "/api/customers", None).await["total"], 2);
    assert_eq!(env.one("GET", &path, None).await, c);
    let patched = env
        .one("PATCH", &path, Some(&json!({"last_name": "Bakar"})))
        .await;
    assert_eq!(patched["last_name"], "Bakar");
}

async fn a_callback_render_costs_one_snapshot(db: TestDb) {
    let env = setup(db).await;
    let code = env
        .collection("Hooked", Some("http://127.0.0.1:9/callback"))
        .await;
    let bill = env.bill(&code, "CB-1", "10.00", 1).await;
    env.pay(bill["id"].as_i64().unwrap(), "SBX-CB-1", "10.00");
    let deliveries = env
        .db
        .claim_deliveries("collections", env.now(), time::Duration::minutes(1), 10)
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    let before = env.db.transactions_started();
    let request = collections_api::notify::CollectionsNotifier
        .render(&env.db, &env.app.state.config, &deliveries[0])
        .unwrap();
    assert_eq!(env.db.transactions_started() - before, 1);
    // The partner's ref_id: `{bill_no}__{YmdHis}` (organization time), not the channel's.
    let ref_id = format!(
        "ref_id={}__20261121110000&",
        bill["bill_no"].as_str().unwrap()
    );
    assert!(String::from_utf8(request.body).unwrap().contains(&ref_id));
}
