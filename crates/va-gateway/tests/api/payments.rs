//! A bank's inquiries, payments and reversals: each payment rule, expiry, idempotency,
//! concurrency, enrolment, and the sandbox's mock.

use crate::prelude::*;

billhub_http::http_backend_tests!(
    close_bill_is_paid_exactly_once,
    partial_bill_takes_several_payments,
    open_bill_takes_any_positive_amount,
    expired_bills_are_refused,
    reversal_restores_the_bill,
    payment_retries_are_idempotent,
    concurrent_payments_of_one_close_bill,
    bank_not_enrolled_sees_nothing,
    sandbox_mock_goes_through_the_channel_path,
);

async fn close_bill_is_paid_exactly_once(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("2000000001", "close", 100000)).await;
    let number = "0099022000000001";
    let a = va
        .bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-1"))
        .await;
    let bills = a.ok().as_array().unwrap().clone();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0], d);
    // Only the exact amount.
    let a = va.pay(number, "PAY-1", "50000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount must equal the outstanding amount 100000."
    );
    va.pay(number, "PAY-2", "100001")
        .await
        .refused(422, "INVALID_AMOUNT");
    va.pay(number, "PAY-3", "abc")
        .await
        .refused(422, "VALIDATION_ERROR");
    let a = va.pay(number, "PAY-4", "100000").await;
    let paid = a.ok();
    assert_eq!(paid["hash"], d["hash"]);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"].to_string(), "100000");
    let p = &paid["payment"];
    assert!(is_uuid(&p["id"]));
    assert_eq!(p["payment_ref_id"], "PAY-4");
    assert_eq!(p["channel"], "Bank Muamalat");
    assert_eq!(p["amount"].to_string(), "100000");
    assert_eq!(p["type"], "payment");
    // Once.
    va.pay(number, "PAY-5", "100000")
        .await
        .refused(409, "BILL_ALREADY_PAID");
    va.bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-2"))
        .await
        .refused(409, "BILL_ALREADY_PAID");
    let shown = va.bill(d["hash"].as_str().unwrap()).await;
    assert_eq!(shown["status"], "paid");
    assert_eq!(shown["paid_amount"].to_string(), "100000");
    // Unknown VA numbers and malformed requests.
    va.pay("0099029999999999", "PAY-6", "100000")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("9999992000000001", "INQ-3"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    let a = va
        .bank_post("/api/v2/ch/payment", &json!({"va_number": "2000000001", "terminal_id": "moon", "transaction_date": "21/11/2026", "amount": ""}))
        .await;
    a.refused(422, "VALIDATION_ERROR");
    for f in [
        "va_number",
        "ref_id",
        "terminal_id",
        "transaction_date",
        "amount",
    ] {
        assert!(a.data().get(f).is_some(), "{f}: {}", a.body);
    }
}

async fn partial_bill_takes_several_payments(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("3000000001", "partial", 100000)).await;
    let number = "0099023000000001";
    let a = va.pay(number, "P-1", "30000").await;
    assert_eq!(a.ok()["status"], "active");
    assert_eq!(a.ok()["paid_amount"].to_string(), "30000");
    let a = va.pay(number, "P-2", "80000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount is above the outstanding amount 70000."
    );
    va.pay(number, "P-3", "0")
        .await
        .refused(422, "INVALID_AMOUNT");
    va.pay(number, "P-4", "-5")
        .await
        .refused(422, "INVALID_AMOUNT");
    let a = va.pay(number, "P-5", "20000.50").await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "50000.5");
    let a = va.pay(number, "P-6", "49999.50").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(a.ok()["paid_amount"].to_string(), "100000");
    va.pay(number, "P-7", "1")
        .await
        .refused(409, "BILL_ALREADY_PAID");
    let rows = va
        .biller_get(&format!(
            "/api/v2/gw/bill/{}/payment",
            d["hash"].as_str().unwrap()
        ))
        .await;
    let rows = rows.ok().as_array().unwrap().clone();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| r["payment_ref_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["P-1", "P-5", "P-6"]
    );

    // A minimum set on the bill (through the store: the dialect has no field for it).
    let org = va.org.id;
    let bill = NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: "Uang gedung".into(),
        description: String::new(),
        currency: Currency::IDR,
        billed: 10_000_000,
        items: vec![],
        bill_date: T0.date(),
        due_date: None,
        valid_until: None,
        rule: PaymentRule::Partial {
            minimum: Some(2_000_000),
        },
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vec![(PREFIX.into(), "3000000002".into())],
    };
    let account = AccountInput {
        code: "3000000002".into(),
        name: "Siti".into(),
        ..Default::default()
    };
    va.store()
        .create_bill_for_account(&account, &bill, T0)
        .unwrap();
    let number = "0099023000000002";
    let a = va.pay(number, "M-1", "10000").await;
    a.refused(422, "INVALID_AMOUNT");
    assert_eq!(
        a.body["message"],
        "The amount is below the minimum payment 20000."
    );
    let a = va.pay(number, "M-2", "20000").await;
    assert_eq!(a.ok()["customer_name"], "Siti");
    assert_eq!(a.ok()["type"], "partial");
}

async fn open_bill_takes_any_positive_amount(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("4000000001", "open", 100000)).await;
    let number = "0099024000000001";
    assert_eq!(
        va.pay(number, "O-1", "40000").await.ok()["status"],
        "active"
    );
    assert_eq!(
        va.pay(number, "O-2", "1").await.ok()["paid_amount"].to_string(),
        "40001"
    );
    va.pay(number, "O-3", "0")
        .await
        .refused(422, "INVALID_AMOUNT");
    // More than the outstanding: the bill is paid, the excess is the account's credit.
    let a = va.pay(number, "O-4", "100000").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(a.ok()["paid_amount"].to_string(), "100000");
    assert_eq!(a.ok()["payment"]["amount"].to_string(), "100000");
    let account = va
        .store()
        .account_by_code(va.org.id, "4000000001")
        .unwrap()
        .unwrap();
    assert_eq!(
        va.store()
            .account_credit(account.id, Currency::IDR)
            .unwrap(),
        4_000_100
    );
}

async fn expired_bills_are_refused(db: TestDb) {
    let mut va = spawn(db).await;
    for (n, kind) in [
        ("5000000001", "close"),
        ("5000000002", "partial"),
        ("5000000003", "open"),
    ] {
        let mut body = bill_body(n, kind, 100000);
        body["valid_until"] = json!("2026-11-21T11:00:00+07:00");
        va.create(&body).await;
    }
    // Still valid at 10:59:59.
    va.app.clock().advance(time::Duration::seconds(3599));
    va.pay("0099025000000003", "E-0", "10").await.ok();
    va.app.clock().advance(time::Duration::seconds(1));
    va.refresh_tokens().await;
    for n in ["0099025000000001", "0099025000000002", "0099025000000003"] {
        va.bank_post("/api/v2/ch/inquiry", &channel_body(n, "E-INQ"))
            .await
            .refused(409, "BILL_EXPIRED");
        va.pay(n, &format!("E-{n}"), "100000")
            .await
            .refused(409, "BILL_EXPIRED");
    }
    let list = va.biller_get("/api/v2/gw/bill?q=expired").await;
    let list = list.ok();
    assert_eq!(list["total"], 3);
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "expired")
    );
    // An expired bill gives its VA number up.
    let d = va.create(&bill_body("5000000001", "close", 100000)).await;
    assert_eq!(d["status"], "active");
    va.pay("0099025000000001", "E-NEW", "100000").await.ok();
}

async fn reversal_restores_the_bill(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("8000000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap().to_string();
    let number = "0099028000000001";
    va.pay(number, "R-PAY-1", "100000").await.ok();
    let rev = |payment_ref: &str, amount: Value, bill: &str| json!({"bill_id": bill, "payment_ref": payment_ref, "amount": amount});
    va.bank_post("/api/v2/ch/reversal", &rev("R-PAY-1", json!(50000), &hash))
        .await
        .refused(422, "INVALID_AMOUNT");
    va.bank_post("/api/v2/ch/reversal", &rev("R-NOPE", json!(100000), &hash))
        .await
        .refused(404, "PAYMENT_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/reversal",
        &rev("R-PAY-1", json!(100000), "NOPE1234"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    let a = va.bank_post("/api/v2/ch/reversal", &json!({})).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(a.data().as_object().unwrap().len(), 3);

    let first = va
        .bank_post("/api/v2/ch/reversal", &rev("R-PAY-1", json!(100000), &hash))
        .await;
    let data = first.ok().clone();
    assert_eq!(data["status"], "reversal");
    assert_eq!(data["paid_amount"].to_string(), "0");
    assert_eq!(data["payment"]["type"], "reversal");
    assert_eq!(data["payment"]["payment_ref_id"], "R-PAY-1");
    // The same reversal again (a bank retrying after a timeout): the first result.
    let again = va
        .bank_post(
            "/api/v2/ch/reversal",
            &rev("R-PAY-1", json!("100000"), &hash),
        )
        .await;
    assert_eq!(again.ok(), &data);
    // The bill shows `reversal` and is payable again.
    let shown = va.bill(&hash).await;
    assert_eq!(shown["status"], "reversal");
    assert_eq!(shown["paid_amount"].to_string(), "0");
    let a = va
        .bank_post("/api/v2/ch/inquiry", &channel_body(number, "R-INQ"))
        .await;
    assert_eq!(a.ok()[0]["status"], "reversal");
    let rows = va
        .biller_get(&format!("/api/v2/gw/bill/{hash}/payment"))
        .await;
    let rows = rows.ok().as_array().unwrap().clone();
    assert_eq!(
        rows.iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["payment", "reversal"]
    );
    assert!(is_uuid(&rows[1]["id"]));
    assert_ne!(rows[0]["id"], rows[1]["id"]);
    let a = va.pay(number, "R-PAY-2", "100000").await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(va.bill(&hash).await["status"], "paid");

    // The sandbox's mock reversal never reverses a bank's payment (issue 10, defect 14: it
    // used to reverse the latest payment whoever made it).
    va.biller_post(
        &format!("/api/v2/gw/bill/{hash}/mock"),
        &json!({"type": "reversal", "amount": 100000}),
    )
    .await
    .refused(404, "PAYMENT_NOT_FOUND");
    assert_eq!(va.bill(&hash).await["status"], "paid");
    // The bank reverses its own payment; a payment reference it never used is refused.
    va.bank_post("/api/v2/ch/reversal", &rev("R-PAY-2", json!(100000), &hash))
        .await
        .ok();
    va.bank_post(
        "/api/v2/ch/reversal",
        &rev("R-PAY-2b", json!(100000), &hash),
    )
    .await
    .refused(404, "PAYMENT_NOT_FOUND");
    let store_bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(store_bill.paid, 0);
}

async fn payment_retries_are_idempotent(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("9000000001", "partial", 100000)).await;
    let number = "0099029000000001";
    let first = va.pay(number, "I-1", "30000").await.ok().clone();
    va.pay(number, "I-2", "20000").await.ok();
    // A retry returns the first result, exactly (the bill as it was right after it).
    let retry = va.pay(number, "I-1", "30000").await;
    assert_eq!(retry.ok(), &first);
    assert_eq!(retry.ok()["paid_amount"].to_string(), "30000");
    // Same reference, other content.
    let a = va.pay(number, "I-1", "30001").await;
    a.refused(409, "INCONSISTENT_REQUEST");
    let bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(bill.paid, 5_000_000);
    assert_eq!(va.store().payments_of_bill(bill.id).unwrap().len(), 2);

    // A retry after the bill was paid still answers the first result, not BILL_ALREADY_PAID.
    va.create(&bill_body("9000000002", "close", 100000)).await;
    let first = va
        .pay("0099029000000002", "I-3", "100000")
        .await
        .ok()
        .clone();
    assert_eq!(
        va.pay("0099029000000002", "I-3", "100000").await.ok(),
        &first
    );
}

async fn concurrent_payments_of_one_close_bill(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("1200000001", "close", 100000)).await;
    let number = "0099021200000001";
    let mut tasks = Vec::new();
    for i in 0..20 {
        let client = va.app.client.clone();
        let url = va.app.url("/api/v2/ch/payment");
        let body = ipg::php_escape(&pay_body(number, &format!("C-{i}"), "100000").to_string());
        let sig = ipg::sign(&va.bank.api_key, body.as_bytes(), "");
        let token = va.bank.token.clone();
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Signature", sig)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["rc"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| *c == "SUCCESS").count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "BILL_ALREADY_PAID").count(),
        19,
        "{codes:?}"
    );
    let bill = &va.store().bills_by_va_number(number).unwrap()[0];
    assert_eq!(bill.paid, 10_000_000);
    assert_eq!(va.store().payments_of_bill(bill.id).unwrap().len(), 1);
}

async fn bank_not_enrolled_sees_nothing(db: TestDb) {
    let mut va = spawn(db).await;
    let d = va.create(&bill_body("1300000001", "close", 100000)).await;
    va.pay("0099021300000001", "N-0", "100000").await.ok();
    let d2 = va.create(&bill_body("1300000002", "close", 100000)).await;
    let other = va.store().create_channel("Bank Lain", "va", T0).unwrap();
    let mut client = Client {
        client_id: other.client_id.unwrap(),
        client_secret: other.client_secret.unwrap(),
        api_key: other.api_key.unwrap(),
        token: String::new(),
    };
    client.token = va.token_for(&client).await;
    va.bank = client;
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099021300000002", "N-1"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    va.pay("0099021300000002", "N-2", "100000")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": d["hash"], "payment_ref": "N-0", "amount": 100000}),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
    assert_eq!(
        va.bill(d2["hash"].as_str().unwrap()).await["paid_amount"].to_string(),
        "0"
    );
    // Once enrolled, it sees the bill.
    va.store().enroll(other.id, va.org.id, T0).unwrap();
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099021300000002", "N-3"),
    )
    .await
    .ok();
}

async fn sandbox_mock_goes_through_the_channel_path(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("1500000001", "partial", 100000)).await;
    let path = format!("/api/v2/gw/bill/{}/mock", d["hash"].as_str().unwrap());
    let a = va
        .biller_post(&path, &json!({"type": "payment", "amount": 40000}))
        .await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "40000");
    assert_eq!(a.ok()["payment"]["channel"], "sandbox");
    va.biller_post(&path, &json!({"type": "payment", "amount": 70000}))
        .await
        .refused(422, "INVALID_AMOUNT");
    va.biller_post(&path, &json!({"type": "refund"}))
        .await
        .refused(422, "VALIDATION_ERROR");
    let a = va
        .biller_post(&path, &json!({"type": "reversal", "amount": 40000}))
        .await;
    assert_eq!(a.ok()["status"], "reversal");
    assert_eq!(a.ok()["paid_amount"].to_string(), "0");
    va.biller_post(&path, &json!({"type": "reversal"}))
        .await
        .refused(404, "PAYMENT_NOT_FOUND");
    let payments = va
        .store()
        .payments_of_bill(va.store().bills_by_va_number("0099021500000001").unwrap()[0].id)
        .unwrap();
    assert_eq!(payments[0].channel, "sandbox");

    // Without BILLHUB_SANDBOX the route does not exist.
    let db2 = TestDb::sqlite();
    let prod = spawn_with_sandbox(db2, false).await;
    let d = prod.create(&bill_body("1500000001", "close", 100000)).await;
    prod.biller_post(
        &format!("/api/v2/gw/bill/{}/mock", d["hash"].as_str().unwrap()),
        &json!({"type": "payment", "amount": 100000}),
    )
    .await
    .refused(404, "NOT_FOUND");
}
