//! Money safety (issue 10): a catalogue product priced in another currency than the bill's is
//! refused (defect 7), and a bill with money on it cannot be cancelled (defect 6).

use billhub_core::{Currency, PaymentRule};
use billhub_store::NewBill;

use super::*;

/// A product priced in USD on a MYR bill: 422 on `product.0.id` (before: the bill was made in
/// MYR at the USD price). A product in MYR, or without a currency, still serves.
async fn product_in_another_currency_is_refused(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Cur", None).await;
    let product =
        |currency: Value| json!({"title": "Buku", "price": "25.50", "currency": currency});
    let usd = env.post("/api/products", &product(json!("USD"))).await;
    let usd = usd.ok()["id"].as_i64().unwrap();
    let myr = env.post("/api/products", &product(json!("MYR"))).await;
    let myr = myr.ok()["id"].as_i64().unwrap();
    let any = env.post("/api/products", &product(Value::Null)).await;
    let any = any.ok()["id"].as_i64().unwrap();
    let mut body = bill_body("C-1", "", json!("1"), json!(1));
    body["product"] = json!([{"id": myr, "quantity": 1}, {"id": usd, "quantity": 2}]);
    let r = env.post(&bills_path(&code), &body).await;
    r.invalid(&["product.1.id"]);
    assert_eq!(
        r.body["errors"]["product.1.id"][0],
        "The product.1.id is priced in USD, not in MYR."
    );
    // Even with a price of its own, the line names a product of another currency.
    body["product"] = json!([{"id": usd, "quantity": 1, "price": "3.00"}]);
    env.post(&bills_path(&code), &body)
        .await
        .invalid(&["product.0.id"]);
    body["product"] = json!([{"id": myr, "quantity": 1}, {"id": any, "quantity": 2}]);
    let r = env.post(&bills_path(&code), &body).await;
    assert_eq!(r.ok()["total_amount"], "76.50");
    assert_eq!(r.body["currency"], "MYR");
}

/// A partially paid bill of a collection: cancel is refused with 403 and the bill keeps its
/// money and status (before: it was voided with 4.00 on it, stranding the money).
async fn cancel_refused_while_money_is_on_the_bill(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Part", None).await;
    let exact = env.bill(&code, "P-1", "10.00", 1).await;
    let first = env
        .db
        .bill_by_public_no(env.a.org.id, exact["bill_no"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let partial = env
        .db
        .create_bill(
            &NewBill {
                organization_id: env.a.org.id,
                account_id: first.account_id,
                collection_id: first.collection_id,
                invoice_number: None,
                ref1: "P-2".into(),
                ref2: String::new(),
                name: "Yuran".into(),
                description: String::new(),
                currency: Currency::MYR,
                billed: 1000,
                items: vec![],
                bill_date: first.bill_date,
                due_date: first.due_date,
                valid_until: None,
                rule: PaymentRule::Partial { minimum: None },
                source: "collections".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            env.now(),
        )
        .unwrap();
    env.pay(partial.id, "SBX-P-2", "4.00");
    let path = format!("/api/collections/{code}/bills/{}", partial.public_no);
    let r = env.patch(&path, &json!({"cancel": true})).await;
    r.err(403);
    assert_eq!(
        r.body["message"],
        "This bill has payments on it: reverse or refund them before cancelling it."
    );
    let after = env.db.bill(partial.id).unwrap();
    assert_eq!(
        (after.status, after.paid),
        (billhub_core::BillStatus::PartiallyPaid, 400)
    );
    // Nothing else of the request was applied either.
    let r = env
        .patch(&path, &json!({"ref2": "kept", "cancel": true}))
        .await;
    r.err(403);
    assert_eq!(env.db.bill(partial.id).unwrap().ref2, "");
    // The unpaid bill of the same collection still cancels.
    let r = env
        .patch(&bill_path(&code, &exact), &json!({"cancel": true}))
        .await;
    assert_eq!(r.ok()["status"], 5);
}

/// A bill of a collection with a `webhook_url` expires: the callback says `status` `expired`
/// with the part left unpaid, signed, once (before: expiry sent nothing).
async fn expiry_sends_a_callback(db: TestDb) {
    let env = setup(db).await;
    let receiver = Receiver::start(&[]).await;
    let code = env.collection("Exp", Some(&receiver.url)).await;
    let first = env.bill(&code, "E-1", "10.00", 1).await;
    let first = env
        .db
        .bill_by_public_no(env.a.org.id, first["bill_no"].as_str().unwrap())
        .unwrap()
        .unwrap();
    let expiring = env
        .db
        .create_bill(
            &NewBill {
                organization_id: env.a.org.id,
                account_id: first.account_id,
                collection_id: first.collection_id,
                invoice_number: None,
                ref1: "E-2".into(),
                ref2: String::new(),
                name: "Yuran".into(),
                description: String::new(),
                currency: Currency::MYR,
                billed: 1250,
                items: vec![],
                bill_date: first.bill_date,
                due_date: first.due_date,
                valid_until: Some(env.now() + time::Duration::hours(1)),
                rule: PaymentRule::Exact,
                source: "cli".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            env.now(),
        )
        .unwrap();
    env.app.clock().advance(time::Duration::hours(2));
    assert_eq!(env.db.expire_due_bills(env.now()).unwrap(), 1);
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let cb = &got[0];
    assert!(!cb.event_id.is_empty());
    let fields: Vec<(String, String)> = cb.fields();
    let want: Vec<(String, String)> = [
        ("ref_id", ""),
        ("bill_id", &expiring.id.to_string()),
        ("bill_no", &expiring.public_no),
        ("ref1", "E-2"),
        ("ref2", ""),
        ("payment_method", ""),
        ("status", "6"),
        ("paid", "0"),
        ("currency", "MYR"),
        ("amount", "12.50"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
    .collect();
    assert_eq!(fields[..10], want[..]);
    let key = env.db.signature_key(env.a.org.id).unwrap().unwrap();
    assert_eq!(
        cb.field("signature"),
        raudhahpay::sign(&key, want.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    );
    // Nothing more to send.
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
}

billhub_http::http_backend_tests!(
    product_in_another_currency_is_refused,
    cancel_refused_while_money_is_on_the_bill,
    expiry_sends_a_callback,
);
