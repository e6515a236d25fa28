//! Creating, showing, listing and revoking bills: the seed example, every validation rule,
//! prefixes and accounts.

use crate::prelude::*;

billhub_http::http_backend_tests!(
    seed_create_example_returns_the_seed_shape,
    every_validation_rule_is_reported,
    prefixes_va_numbers_and_accounts,
    revoke_voids_the_bill,
    lists_search_and_paginate,
);

/// The seed's create example. The seed's request has `total_amount: 0`, a zero-quantity
/// component and a `valid_until` in the past (2022); those are replaced by values that make it
/// a valid request: one component of 1 x 100000 (so `total_amount` 100000) and a `valid_until`
/// 30 days after the test clock. `institution_code` is the test organization's code, and its
/// prefix 009902 is the organization's.
async fn seed_create_example_returns_the_seed_shape(db: TestDb) {
    let va = spawn(db).await;
    let valid_until = "2026-12-21T11:46:56+07:00";
    let request = json!({
        "va_number": "1234567890",
        "invoice_number": "INV01/TRX000001",
        "channel": "muamalat",
        "prefix": "009902",
        "name": "SPP Jan 22",
        "total_amount": 100000,
        "institution_code": ORG_CODE,
        "type": "close",
        "valid_until": valid_until,
        "components": [{ "name": "string", "qty": 1, "price": 100000, "total": 100000 }],
        "customer_name": "string",
        "customer_email": "string",
        "customer_phone": "string",
        "customer_address": "string",
        "description": "string",
        "ext_description": "string"
    });
    let answer = va.biller_post("/api/v2/gw/bill", &request).await;
    assert_eq!(answer.body["message"], "success");
    assert_eq!(answer.body["timestamp"], "2026-11-21T10:00:00+07:00");
    let data = answer.ok().clone();
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "hash",
        "va_number",
        "type",
        "invoice_number",
        "name",
        "customer_name",
        "customer_email",
        "customer_phone",
        "customer_address",
        "total_amount",
        "billed_amount",
        "paid_amount",
        "description",
        "ext_description",
        "due_date",
        "valid_until",
        "status",
        "created_at",
        "components",
    ] {
        assert!(keys.contains(&k), "missing {k} in {data}");
    }
    assert_eq!(keys.len(), 19, "{keys:?}");
    let hash = data["hash"].as_str().unwrap();
    assert!(hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(data["va_number"], "0099021234567890");
    assert_eq!(data["type"], "close");
    assert_eq!(data["invoice_number"], "INV01/TRX000001");
    assert_eq!(data["name"], "SPP Jan 22");
    assert_eq!(data["customer_name"], "string");
    assert_eq!(data["customer_email"], "string");
    assert_eq!(data["customer_phone"], "string");
    assert_eq!(data["customer_address"], "string");
    // Amounts are JSON numbers without a fraction.
    assert_eq!(data["total_amount"].to_string(), "100000");
    assert_eq!(data["billed_amount"].to_string(), "100000");
    assert_eq!(data["paid_amount"].to_string(), "0");
    assert_eq!(data["description"], "string");
    assert_eq!(data["ext_description"], "string");
    assert_eq!(data["valid_until"], valid_until);
    assert_eq!(data["due_date"], valid_until);
    assert_eq!(data["status"], "active");
    assert_eq!(data["created_at"], "2026-11-21T10:00:00+07:00");
    assert!(is_iso_wib(&data["created_at"]));
    let c = &data["components"][0];
    assert!(is_uuid(&c["id"]), "{c}");
    assert_eq!(c["name"], "string");
    // Component amounts are strings.
    assert_eq!(
        (&c["qty"], &c["price"], &c["total"]),
        (&json!("1"), &json!("100000"), &json!("100000"))
    );
    assert_eq!(c.as_object().unwrap().len(), 5);

    // The same bill through GET, and in the store: the account is the 10-digit va_number.
    assert_eq!(va.bill(hash).await, data);
    let account = va
        .store()
        .account_by_code(va.org.id, "1234567890")
        .unwrap()
        .unwrap();
    assert_eq!(account.name, "string");
    let bills = va.store().bills_by_va_number("0099021234567890").unwrap();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0].public_no, hash);
    assert_eq!(bills[0].billed, 10_000_000);
    assert_eq!(bills[0].rule, PaymentRule::Exact);
}

async fn every_validation_rule_is_reported(db: TestDb) {
    let va = spawn(db).await;
    // Another organization owns 009903.
    va.store()
        .create_organization(
            &billhub_store::NewOrganization {
                code: Some("OTHER001".into()),
                name: "Other".into(),
                utc_offset: time::UtcOffset::UTC,
                locale: "en".into(),
                settlement: None,
                va_prefixes: vec!["009903".into()],
            },
            T0,
        )
        .unwrap();

    // Everything missing: every required field at once.
    let a = va.biller_post("/api/v2/gw/bill", &json!({})).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(a.body["message"], "The given data was invalid.");
    for f in [
        "va_number",
        "prefix",
        "name",
        "total_amount",
        "institution_code",
        "type",
        "customer_name",
    ] {
        assert!(a.data().get(f).is_some(), "{f} not reported: {}", a.body);
    }
    assert_eq!(a.data().as_object().unwrap().len(), 7, "{}", a.body);
    assert_eq!(a.data()["va_number"][0], "The va_number field is required.");

    // Everything wrong at once.
    let mut bad = bill_body("12345", "closed", 100000);
    bad["prefix"] = json!(["009902", "009903", 7, "12"]);
    bad["institution_code"] = json!("OTHER001");
    bad["name"] = json!("");
    bad["customer_name"] = json!(null);
    bad["valid_until"] = json!("2022-04-04T11:46:56+07:00");
    bad["total_amount"] = json!(100000.001);
    bad["customer_email"] = json!(12);
    bad["components"] = json!([
        {"name": "a", "qty": 2, "price": 50000, "total": 90000},
        {"name": "b", "qty": 0, "price": 1, "total": 0},
        {"qty": 1, "price": "x", "total": 1},
        "nope"
    ]);
    let a = va.biller_post("/api/v2/gw/bill", &bad).await;
    a.refused(422, "VALIDATION_ERROR");
    let d = a.data();
    for f in [
        "va_number",
        "prefix.1",
        "prefix.2",
        "prefix.3",
        "institution_code",
        "name",
        "customer_name",
        "type",
        "valid_until",
        "total_amount",
        "customer_email",
        "components.0.total",
        "components.1.qty",
        "components.2.name",
        "components.2.price",
        "components.3",
    ] {
        assert!(d.get(f).is_some(), "{f} not reported: {d}");
    }
    assert!(d.get("prefix.0").is_none());
    assert_eq!(
        d["va_number"][0],
        "The va_number must be exactly 10 digits."
    );
    assert_eq!(
        d["prefix.1"][0],
        "The prefix 009903 is not one of the institution's VA prefixes."
    );
    assert_eq!(
        d["valid_until"][0],
        "The valid_until must be a date in the future."
    );

    // One rule at a time.
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!("12345678901")),
        ),
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!("12345abcde")),
        ),
        (
            "va_number",
            Box::new(|b| b["va_number"] = json!(1234567890)),
        ),
        ("prefix", Box::new(|b| b["prefix"] = json!("009903"))),
        ("prefix", Box::new(|b| b["prefix"] = json!("0099"))),
        ("prefix", Box::new(|b| b["prefix"] = json!([]))),
        ("prefix", Box::new(|b| b["prefix"] = json!({"a": 1}))),
        (
            "prefix.1",
            Box::new(|b| b["prefix"] = json!(["009902", "009902"])),
        ),
        (
            "institution_code",
            Box::new(|b| b["institution_code"] = json!("e9kp2zq6")),
        ),
        (
            "name",
            Box::new(|b| {
                b.as_object_mut()
                    .unwrap()
                    .remove("name")
                    .map(|_| ())
                    .unwrap_or(())
            }),
        ),
        (
            "customer_name",
            Box::new(|b| b["customer_name"] = json!("  ")),
        ),
        // (`CLOSE` is read as `close` since issue 11: the case of `type` does not matter.)
        ("type", Box::new(|b| b["type"] = json!("CLOSED"))),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-12-21 10:00:00")),
        ),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-12-21T10:00:00")),
        ),
        (
            "valid_until",
            Box::new(|b| b["valid_until"] = json!("2026-11-21T10:00:00+07:00")),
        ),
        ("total_amount", Box::new(|b| b["total_amount"] = json!(0))),
        ("total_amount", Box::new(|b| b["total_amount"] = json!(-5))),
        (
            "total_amount",
            Box::new(|b| b["total_amount"] = json!("abc")),
        ),
        (
            "total_amount",
            Box::new(|b| b["total_amount"] = json!(99999)),
        ),
        (
            "components.0.total",
            Box::new(|b| b["components"][0]["total"] = json!(99999)),
        ),
        (
            "components.0.qty",
            Box::new(|b| b["components"][0]["qty"] = json!(-1)),
        ),
        (
            "components.0.price",
            Box::new(|b| b["components"][0]["price"] = json!(-1)),
        ),
        ("components", Box::new(|b| b["components"] = json!("x"))),
        (
            "invoice_number",
            Box::new(|b| b["invoice_number"] = json!("x".repeat(65))),
        ),
        ("description", Box::new(|b| b["description"] = json!(["x"]))),
    ];
    for (i, (field, edit)) in cases.iter().enumerate() {
        let mut body = bill_body(&format!("55500000{i:02}"), "close", 100000);
        edit(&mut body);
        let a = va.biller_post("/api/v2/gw/bill", &body).await;
        a.refused(422, "VALIDATION_ERROR");
        assert!(
            a.data().get(*field).is_some(),
            "case {i}: {field} not reported: {}",
            a.body
        );
        assert_eq!(
            a.data().as_object().unwrap().len(),
            1,
            "case {i}: {}",
            a.body
        );
    }

    // Not JSON at all.
    let body = b"va_number=1234567890";
    let sig = ipg::sign(&va.biller.api_key, body, "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/gw/bill",
            Some(&va.biller.token),
            Some(&sig),
            body,
        )
        .await;
    a.refused(422, "VALIDATION_ERROR");
    assert!(a.data().get("body").is_some());

    // Valid variants: no components (total stands alone), no valid_until, decimal amounts,
    // several components summed, and the deprecated channel ignored.
    let mut ok = bill_body("5550000100", "close", 100000);
    ok.as_object_mut().unwrap().remove("components");
    ok.as_object_mut().unwrap().remove("valid_until");
    ok["channel"] = json!("tokopedia");
    let d = va.create(&ok).await;
    assert_eq!(d["components"], json!([]));
    assert_eq!(d["valid_until"], Value::Null);
    assert_eq!(d["due_date"], Value::Null);
    let mut ok = bill_body("5550000101", "partial", 150000);
    ok["total_amount"] = json!(150000.5);
    ok["components"] = json!([
        {"name": "SPP", "qty": 1, "price": 100000, "total": 100000},
        {"name": "Buku", "qty": "2.5", "price": 20000.2, "total": 50000.5}
    ]);
    let d = va.create(&ok).await;
    assert_eq!(d["total_amount"].to_string(), "150000.5");
    assert_eq!(d["components"][1]["qty"], "2.5");
    assert_eq!(d["components"][1]["price"], "20000.2");
    assert_eq!(d["components"][1]["total"], "50000.5");
    assert_eq!(d["type"], "partial");
}

async fn prefixes_va_numbers_and_accounts(db: TestDb) {
    let va = spawn(db).await;
    // Several prefixes: payable at each; data.va_number is the first.
    let mut body = bill_body("7000000001", "close", 100000);
    body["prefix"] = json!(["009905", "009902"]);
    let d = va.create(&body).await;
    assert_eq!(d["va_number"], "0099057000000001");
    for number in ["0099057000000001", "0099027000000001"] {
        let a = va
            .bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-1"))
            .await;
        let bills = a.ok().as_array().unwrap().clone();
        assert_eq!(bills.len(), 1);
        assert_eq!(bills[0]["hash"], d["hash"]);
    }
    // A VA number held by a payable bill is refused, at any of its prefixes.
    let again = va
        .biller_post("/api/v2/gw/bill", &bill_body("7000000001", "open", 5000))
        .await;
    again.refused(409, "VA_NUMBER_IN_USE");
    // Once paid (no longer payable), the number can carry a new bill.
    va.pay("0099027000000001", "P-1", "100000").await.ok();
    let d2 = va.create(&bill_body("7000000001", "open", 5000)).await;
    assert_ne!(d2["hash"], d["hash"]);
    let a = va
        .bank_post(
            "/api/v2/ch/inquiry",
            &channel_body("0099027000000001", "INQ-2"),
        )
        .await;
    assert_eq!(a.ok()[0]["hash"], d2["hash"]);
    // Both bills belong to the account 7000000001.
    let account = va
        .store()
        .account_by_code(va.org.id, "7000000001")
        .unwrap()
        .unwrap();
    assert_eq!(va.store().bills_of_account(account.id).unwrap().len(), 2);
}

async fn revoke_voids_the_bill(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("6000000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap();
    let a = va.biller_delete(&format!("/api/v2/gw/bill/{hash}")).await;
    assert_eq!(a.body["message"], "Billing revoked.");
    assert_eq!(a.ok()["status"], "void");
    assert_eq!(va.bill(hash).await["status"], "void");
    va.pay("0099026000000001", "V-1", "100000")
        .await
        .refused(409, "BILL_VOID");
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099026000000001", "V-2"),
    )
    .await
    .refused(409, "BILL_VOID");
    va.biller_delete(&format!("/api/v2/gw/bill/{hash}"))
        .await
        .refused(409, "BILL_VOID");
    // A paid bill cannot be revoked.
    let d = va.create(&bill_body("6000000002", "close", 100000)).await;
    va.pay("0099026000000002", "V-3", "100000").await.ok();
    let a = va
        .biller_delete(&format!("/api/v2/gw/bill/{}", d["hash"].as_str().unwrap()))
        .await;
    a.refused(409, "BILL_ALREADY_PAID");
    assert_eq!(a.body["message"], "A paid bill cannot be revoked.");
    va.biller_delete("/api/v2/gw/bill/NOPE1234")
        .await
        .refused(404, "BILL_NOT_FOUND");
    va.biller_get("/api/v2/gw/bill/NOPE1234")
        .await
        .refused(404, "BILL_NOT_FOUND");
    // The revoked number is free again.
    va.create(&bill_body("6000000001", "close", 100000)).await;
}

async fn lists_search_and_paginate(db: TestDb) {
    let mut va = spawn(db).await;
    for i in 0..17 {
        let kind = if i % 3 == 0 { "partial" } else { "close" };
        let mut body = bill_body(&format!("14000000{i:02}"), kind, 1000 * (i + 1));
        body["components"][0]["price"] = json!(1000 * (i + 1));
        body["components"][0]["total"] = json!(1000 * (i + 1));
        body["customer_name"] = json!(if i == 5 { "Ahmad Dahlan" } else { "Budi" });
        va.create(&body).await;
        va.app.clock().advance(time::Duration::hours(1));
        va.refresh_tokens().await;
    }
    let page1 = va.biller_get("/api/v2/gw/bill").await;
    let p = page1.ok();
    assert_eq!(
        (
            p["current_page"].clone(),
            p["per_page"].clone(),
            p["total"].clone(),
            p["last_page"].clone()
        ),
        (json!(1), json!(15), json!(17), json!(2))
    );
    assert_eq!((p["from"].clone(), p["to"].clone()), (json!(1), json!(15)));
    assert_eq!(p["data"].as_array().unwrap().len(), 15);
    // Newest first by default.
    assert_eq!(p["data"][0]["va_number"], "0099021400000016");
    let page2 = va
        .biller_get(&format!(
            "/api/v2/gw/bill?institution_code={ORG_CODE}&page=2"
        ))
        .await;
    let p = page2.ok();
    assert_eq!((p["from"].clone(), p["to"].clone()), (json!(16), json!(17)));
    assert_eq!(p["data"].as_array().unwrap().len(), 2);
    let empty = va.biller_get("/api/v2/gw/bill?page=3").await;
    assert_eq!(
        (empty.ok()["from"].clone(), empty.ok()["data"].clone()),
        (Value::Null, json!([]))
    );

    let count = |a: &Answer| a.ok()["total"].as_i64().unwrap();
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=ahmad").await), 1);
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/bill?q=1400000007").await),
        1
    );
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/bill?q=INV%2F140000001").await),
        7
    );
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=partial").await), 6);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=100%25").await), 0);
    va.pay("0099021400000001", "L-1", "2000").await.ok();
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=paid").await), 1);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=active").await), 16);
    // Dates are the organization's local days: bills were made hourly from 10:00 on 21 Nov.
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/bill?date.0=2026-11-22&date.1=2026-11-22")
                .await
        ),
        3
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/bill?date%5B0%5D=2026-11-21&date%5B1%5D=2026-11-21")
                .await
        ),
        14
    );
    let sorted = va
        .biller_get("/api/v2/gw/bill?order_by=total_amount&order=asc")
        .await;
    assert_eq!(sorted.ok()["data"][0]["total_amount"].to_string(), "1000");
    let bad = va
        .biller_get(
            "/api/v2/gw/bill?order_by=hash&order=up&page=0&date.0=yesterday&institution_code=X",
        )
        .await;
    bad.refused(422, "VALIDATION_ERROR");
    assert_eq!(bad.data().as_object().unwrap().len(), 5, "{}", bad.body);

    // Payments: each row embeds its bill.
    va.pay("0099021400000000", "L-2", "500").await.ok();
    let hash = va.store().bills_by_va_number("0099021400000001").unwrap()[0]
        .public_no
        .clone();
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": hash, "payment_ref": "L-1", "amount": "2000"}),
    )
    .await
    .ok();
    // `reversal` and `active` are statuses at now: the reversed bill is no longer `active`.
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=reversal").await), 1);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=active").await), 16);
    assert_eq!(count(&va.biller_get("/api/v2/gw/bill?q=paid").await), 0);
    let all = va.biller_get("/api/v2/gw/payment").await;
    let p = all.ok();
    assert_eq!(p["total"], 3);
    let row = &p["data"][0];
    assert_eq!(row["type"], "reversal");
    assert_eq!(row["payment_ref_id"], "L-1");
    assert_eq!(row["amount"].to_string(), "2000");
    assert_eq!(row["bill"]["hash"], json!(hash));
    assert_eq!(row["bill"]["status"], "reversal");
    assert!(is_iso_wib(&row["created_at"]));
    assert_eq!(
        count(&va.biller_get("/api/v2/gw/payment?type=payment").await),
        2
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/payment?va_number=0099021400000000")
                .await
        ),
        1
    );
    assert_eq!(
        count(
            &va.biller_get("/api/v2/gw/payment?va_number=1400000001")
                .await
        ),
        2
    );
    assert_eq!(count(&va.biller_get("/api/v2/gw/payment?q=l-2").await), 1);
    let sorted = va
        .biller_get("/api/v2/gw/payment?order_by=amount&order=asc")
        .await;
    assert_eq!(sorted.ok()["data"][0]["payment_ref_id"], "L-2");
    va.biller_get("/api/v2/gw/payment?type=refund&va_number=12")
        .await
        .refused(422, "VALIDATION_ERROR");
}
