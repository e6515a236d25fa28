//! Bills: the seed's create request, its variants, includes, pagination, filters, update and cancel.

use super::*;

billhub_http::http_backend_tests!(
    seed_create_bill,
    create_bill_variants,
    includes_alone_and_combined,
    pagination_edges,
    bill_filters,
    update_and_cancel,
);

async fn seed_create_bill(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Yuran Sekolah", None).await;
    assert!(is_code8(&code));
    // The seed's request names products 1 and 2 of the organization: make two catalogue
    // products and use their ids. Product 1's catalogue price (12.00) is not the request's
    // (10.00): the request's price wins.
    let p1 = env
        .post(
            "/api/products",
            &json!({"title": "product 1", "code": "P1", "price": "12.00"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let p2 = env
        .post(
            "/api/products",
            &json!({"title": "product 2", "price": "5.00"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    // The seed's request, with `due` made relative to the test clock (the seed's 2020 date is
    // long past).
    let request = json!({
        "due": due(),
        "ref1": "test multi currency",
        "ref2": "test multi currency",
        "currency": "MYR",
        "customer": {
            "acc_no": "911111111111",
            "first_name": "RAUDHAH",
            "last_name": "PAY",
            "address": "raudhahPay",
            "email": "team@raudhahpay.com",
            "mobile": "60123456789",
            "organization_id": 1
        },
        "product": [
            {"id": p1, "title": "product 1", "price": "10.00", "quantity": 10, "organization_id": 1},
            {"id": p2, "title": "product 2", "price": "5.00", "quantity": 1, "organization_id": 1}
        ]
    });
    let r = env.post(&bills_path(&code), &request).await;
    let b = r.ok();
    // Field for field the seed's response (and nothing it does not show without `include`).
    assert_eq!(keys(b), sorted(&BILL_FIELDS));
    assert!(b["id"].is_i64());
    let bill_no = b["bill_no"].as_str().unwrap();
    assert!(is_code8(bill_no), "{bill_no}");
    assert_eq!(b["due"], due());
    assert_eq!(b["status"], 2);
    assert_eq!(b["type"], 2);
    for null in [
        "recurring",
        "recurring_end_date",
        "created_by",
        "quantity_label",
        "master_bill",
        "rbill_date",
    ] {
        assert!(b[null].is_null(), "{null}");
    }
    assert!(b["collection_id"].is_i64());
    assert!(b["account_id"].is_i64());
    assert_eq!(b["ref1"], "test multi currency");
    assert_eq!(b["ref2"], "test multi currency");
    assert_eq!(b["api_redirect"], 1);
    assert_eq!(b["is_metric"], 0);
    // The clock is 2026-11-21 03:00 UTC; the organization writes +08:00.
    assert_eq!(b["created_at"], "2026-11-21 11:00:00");
    assert_eq!(b["updated_at"], "2026-11-21 11:00:00");
    assert_eq!(b["currency"], "MYR");
    assert_eq!(b["bill_url"], format!("{PUBLIC}/b/{bill_no}"));
    assert_eq!(b["payment_url"], format!("{PUBLIC}/b/{bill_no}"));
    assert_eq!(
        b["forward_payment_url"],
        format!("{PUBLIC}/b/{bill_no}?transactionRefId=CD__{bill_no}__20261121110000")
    );
    // The seed's example response shows "134.00": it belongs to another bill (its one product
    // line is 10 x 10.00 and the rest is not shown). This request is 10 x 10.00 + 1 x 5.00.
    assert_eq!(b["total_amount"], "105.00");
    assert_eq!(b["total_paid"], "0.00");
    assert_eq!(b["balance"], "105.00");
    assert_eq!(b["paid"], false);
    assert_eq!(b["payments"], json!([]));
    let pcs = b["product_collections"].as_array().unwrap();
    assert_eq!(pcs.len(), 2);
    assert_eq!(
        keys(&pcs[0]),
        sorted(&[
            "id",
            "bill_id",
            "product_id",
            "created_at",
            "updated_at",
            "quantity",
            "product"
        ])
    );
    assert_eq!(pcs[0]["bill_id"], b["id"]);
    assert_eq!(pcs[0]["product_id"], p1);
    // The seed writes quantities as decimals: 10.0.
    assert!(r.text.contains("\"quantity\":10.0"), "{}", r.text);
    assert!(r.text.contains("\"quantity\":1.0"), "{}", r.text);
    let product = &pcs[0]["product"];
    assert_eq!(
        keys(product),
        sorted(&[
            "id",
            "title",
            "description",
            "code",
            "price",
            "product_id",
            "currency",
            "organization_id",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(product["id"], p1);
    assert_eq!(product["title"], "product 1");
    assert_eq!(product["code"], "P1");
    assert_eq!(product["price"], "12.00");
    assert_eq!(product["organization_id"], env.a.org.id);
    assert_eq!(pcs[1]["product"]["title"], "product 2");

    // The customer was created with the seed's acc_no; the same acc_no finds it again.
    let again = env.post(&bills_path(&code), &request).await;
    assert_eq!(again.ok()["account_id"], b["account_id"]);
    assert_ne!(again.body["bill_no"], b["bill_no"]);
    let got = env
        .get(&format!("{}?include=account", bill_path(&code, b)))
        .await;
    let acc = &got.ok()["account"];
    assert_eq!(acc["acc_no"], "911111111111");
    assert_eq!(acc["first_name"], "RAUDHAH");
    assert_eq!(acc["last_name"], "PAY");
    assert_eq!(acc["email"], "team@raudhahpay.com");
    assert_eq!(acc["mobile"], "60123456789");
    assert_eq!(acc["address"], "raudhahPay");
    // GET answers the same bill as the create did.
    let mut created = b.clone();
    created.as_object_mut().unwrap().remove("account");
    let mut read = got.body.clone();
    read.as_object_mut().unwrap().remove("account");
    assert_eq!(read, created);
}

async fn create_bill_variants(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Kedai", None).await;
    // Prices as JSON numbers and strings, quantities integer and decimal; products without id
    // and a customer without acc_no (as real clients send them).
    let mut body = bill_body("ORDER-1", "", json!(10.5), json!(2));
    body["product"] = json!([
        {"title": "A", "price": 10.5, "quantity": 2},
        {"title": "B", "price": 10, "quantity": "1.5"},
        {"title": "C", "price": "0.99", "quantity": 3},
        {"title": "D", "price": "7", "quantity": 0.5}
    ]);
    let r = env
        .post(&format!("{}?include=account", bills_path(&code)), &body)
        .await;
    let b = r.ok();
    // 21.00 + 15.00 + 2.97 + 3.50
    assert_eq!(b["total_amount"], "42.47");
    assert_eq!(b["balance"], "42.47");
    assert_eq!(b["ref2"], "");
    assert!(r.text.contains("\"quantity\":1.5") && r.text.contains("\"quantity\":0.5"));
    // A generated acc_no, returned, usable at every channel.
    let acc_no = b["account"]["acc_no"].as_str().unwrap().to_string();
    assert_eq!(acc_no.len(), 12);
    assert!(acc_no.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(b["account"]["id"], b["account_id"]);
    assert_eq!(
        env.db
            .account_by_code(env.a.org.id, &acc_no)
            .unwrap()
            .unwrap()
            .id,
        b["account_id"].as_i64().unwrap()
    );
    // Each product without id is now in the catalogue, priced in the bill's currency.
    let products = env.get("/api/products").await;
    let data = products.ok()["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data[0]["title"], "A");
    assert_eq!(data[0]["price"], "10.50");
    assert_eq!(data[0]["currency"], "MYR");
    assert_eq!(data[1]["price"], "10.00");
    // The bill in the store: exact rule, no expiry, made by collections.
    let bill = env
        .db
        .bill_by_public_no(env.a.org.id, b["bill_no"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(bill.rule, billhub_core::PaymentRule::Exact);
    assert!(bill.valid_until.is_none());
    assert_eq!(bill.billed, 4247);
    // A catalogue product with id and no price: its catalogue price.
    let pid = data[1]["id"].as_i64().unwrap();
    let mut body = bill_body("ORDER-2", "x", json!("1"), json!(1));
    body["product"] = json!([{"id": pid, "quantity": 3}]);
    body["customer"] = json!({"acc_no": acc_no});
    let b2 = env.post(&bills_path(&code), &body).await;
    assert_eq!(b2.ok()["total_amount"], "30.00");
    assert_eq!(b2.body["account_id"], b["account_id"]);
    // A JPY-less example: KHR has two decimals in billhub's table, IDR too; USD string.
    let mut body = bill_body("ORDER-3", "", json!("19.99"), json!(1));
    body["currency"] = json!("usd");
    let b3 = env.post(&bills_path(&code), &body).await;
    assert_eq!(b3.ok()["currency"], "USD");
    assert_eq!(b3.body["total_amount"], "19.99");
}

async fn includes_alone_and_combined(db: TestDb) {
    let env = setup(db).await;
    let code = env
        .collection("Inc", Some("https://merchant.example/cb"))
        .await;
    let b = env.bill(&code, "INC-1", "10.00", 2).await;
    let payment = env.pay(b["id"].as_i64().unwrap(), "SBX-INC-1", "20.00");
    let path = bill_path(&code, &b);
    let base = env.get(&path).await.ok().clone();
    assert!(base.get("account").is_none() && base.get("collection").is_none());
    assert_eq!(base["payments"].as_array().unwrap().len(), 1);
    assert!(base["payments"][0].get("transaction").is_none());
    assert!(base["product_collections"][0]["product"].is_object());

    let with = |inc: &str| format!("{path}?include={inc}");
    // account
    let r = env.get(&with("account")).await;
    let acc = &r.ok()["account"];
    assert_eq!(
        keys(acc),
        sorted(&[
            "id",
            "acc_no",
            "first_name",
            "last_name",
            "email",
            "mobile",
            "address",
            "organization_id",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(acc["first_name"], "Siti");
    assert!(r.body.get("collection").is_none());
    // collection
    let r = env.get(&with("collection")).await;
    let c = &r.ok()["collection"];
    assert_eq!(
        keys(c),
        sorted(&["id", "code", "name", "webhook_url", "redirect_url"])
    );
    assert_eq!(c["code"], code.as_str());
    assert_eq!(c["webhook_url"], "https://merchant.example/cb");
    assert!(c["redirect_url"].is_null());
    assert!(r.body.get("account").is_none());
    // collection.organization
    let r = env.get(&with("collection.organization")).await;
    let org = &r.ok()["collection"]["organization"];
    assert_eq!(
        org,
        &json!({"id": env.a.org.id, "code": "MERCHANTA", "name": "Kedai Runcit A"})
    );
    // product-collections, product-collections.product and payments: what the seed shows
    // anyway.
    for inc in [
        "product-collections",
        "product-collections.product",
        "payments",
    ] {
        let r = env.get(&with(inc)).await;
        assert_eq!(r.ok(), &base, "{inc}");
    }
    // payments.transaction
    let r = env.get(&with("payments.transaction")).await;
    let p = &r.ok()["payments"][0];
    assert_eq!(p["amount"], "20.00");
    assert_eq!(p["status"], "success");
    assert_eq!(p["payment_method"], "fpx");
    let t = &p["transaction"];
    assert_eq!(t["ref_id"], "SBX-INC-1");
    assert_eq!(t["channel"], "sandbox");
    assert_eq!(t["method"], "fpx");
    assert_eq!(t["amount"], "20.00");
    assert_eq!(t["currency"], "MYR");
    assert_eq!(t["status"], "success");
    assert_eq!(t["id"], payment.uid.as_str());
    assert!(is_timestamp(t["paid_at"].as_str().unwrap()));
    // Everything at once.
    let all = "account,collection,collection.organization,product-collections,product-collections.product,payments,payments.transaction";
    let r = env.get(&with(all)).await;
    let b_all = r.ok();
    assert!(b_all["account"].is_object());
    assert!(b_all["collection"]["organization"].is_object());
    assert!(b_all["payments"][0]["transaction"].is_object());
    assert_eq!(b_all["product_collections"], base["product_collections"]);
    // Unknown include: 400 naming the allowed ones.
    let r = env.get(&with("account,customer")).await;
    let msg = r.err(400)["message"].as_str().unwrap().to_string();
    assert!(msg.contains("customer"), "{msg}");
    for allowed in [
        "account",
        "collection.organization",
        "product-collections.product",
        "payments.transaction",
    ] {
        assert!(msg.contains(allowed), "{msg}");
    }
    // Includes on the create, the update and the list too.
    let r = env
        .post(
            &format!(
                "{}?include=account,collection.organization",
                bills_path(&code)
            ),
            &bill_body("INC-2", "", json!("1.00"), json!(1)),
        )
        .await;
    assert!(r.ok()["account"]["acc_no"].is_string());
    assert_eq!(r.body["collection"]["organization"]["code"], "MERCHANTA");
    let r = env
        .patch(&with("payments.transaction,account"), &json!({"ref2": "x"}))
        .await;
    assert_eq!(r.ok()["payments"][0]["transaction"]["ref_id"], "SBX-INC-1");
    assert!(r.body["account"].is_object());
    let r = env
        .get(&format!("{}?include=collection", bills_path(&code)))
        .await;
    assert!(r.ok()["data"][0]["collection"].is_object());
    let r = env
        .post(
            &format!("{}?include=nope", bills_path(&code)),
            &bill_body("INC-3", "", json!("1.00"), json!(1)),
        )
        .await;
    r.err(400);
    let r = env
        .get(&format!("{}?include=nope", bills_path(&code)))
        .await;
    r.err(400);
}

async fn pagination_edges(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Pages", None).await;
    // Empty.
    let r = env.get(&bills_path(&code)).await;
    let p = r.ok();
    assert_eq!(keys(p), sorted(&PAGINATOR_FIELDS));
    let path = format!("{PUBLIC}/api/collections/{code}/bills");
    assert_eq!(p["current_page"], 1);
    assert_eq!(p["data"], json!([]));
    assert_eq!(p["first_page_url"], format!("{path}?page=1"));
    assert!(p["from"].is_null() && p["to"].is_null());
    assert_eq!(p["last_page"], 1);
    assert_eq!(p["last_page_url"], format!("{path}?page=1"));
    assert!(p["next_page_url"].is_null() && p["prev_page_url"].is_null());
    assert_eq!(p["path"], path.as_str());
    assert_eq!(p["per_page"], 15);
    assert_eq!(p["total"], 0);
    // Five bills, two per page.
    let mut nos = Vec::new();
    for i in 0..5 {
        let b = env.bill(&code, &format!("P-{i}"), "1.00", 1).await;
        nos.push(b["bill_no"].as_str().unwrap().to_string());
    }
    let r = env.get(&format!("{}?per_page=2", bills_path(&code))).await;
    let p = r.ok();
    assert_eq!(p["total"], 5);
    assert_eq!(p["last_page"], 3);
    assert_eq!((p["from"].as_i64(), p["to"].as_i64()), (Some(1), Some(2)));
    assert_eq!(p["data"][0]["bill_no"], nos[0].as_str());
    assert_eq!(p["next_page_url"], format!("{path}?per_page=2&page=2"));
    assert!(p["prev_page_url"].is_null());
    assert_eq!(p["last_page_url"], format!("{path}?per_page=2&page=3"));
    // The last page.
    let r = env
        .get(&format!("{}?per_page=2&page=3", bills_path(&code)))
        .await;
    let p = r.ok();
    assert_eq!(p["current_page"], 3);
    assert_eq!(p["data"].as_array().unwrap().len(), 1);
    assert_eq!(p["data"][0]["bill_no"], nos[4].as_str());
    assert_eq!((p["from"].as_i64(), p["to"].as_i64()), (Some(5), Some(5)));
    assert!(p["next_page_url"].is_null());
    assert_eq!(p["prev_page_url"], format!("{path}?per_page=2&page=2"));
    // Past the last page: empty data, the totals still right.
    let r = env
        .get(&format!("{}?per_page=2&page=9", bills_path(&code)))
        .await;
    let p = r.ok();
    assert_eq!(p["data"], json!([]));
    assert!(p["from"].is_null());
    assert_eq!(p["total"], 5);
    // per_page is capped at 100.
    let r = env
        .get(&format!("{}?per_page=500", bills_path(&code)))
        .await;
    assert_eq!(r.ok()["per_page"], 100);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 5);
    // Nonsense: per_page 0 is a 422, page "x" is page 1.
    env.get(&format!("{}?per_page=0", bills_path(&code)))
        .await
        .invalid(&["per_page"]);
    let r = env.get(&format!("{}?page=x", bills_path(&code))).await;
    assert_eq!(r.ok()["current_page"], 1);
    // Filters stay in the page links.
    let r = env
        .get(&format!(
            "{}?filter[status]=2&per_page=1",
            bills_path(&code)
        ))
        .await;
    assert_eq!(
        r.ok()["next_page_url"],
        format!("{path}?filter%5Bstatus%5D=2&per_page=1&page=2")
    );
    // The collections list is a paginator too.
    for i in 0..2 {
        env.collection(&format!("More {i}"), None).await;
    }
    let r = env.get("/api/collections?per_page=2&page=2").await;
    let p = r.ok();
    assert_eq!(p["total"], 3);
    assert_eq!(p["data"].as_array().unwrap().len(), 1);
    assert_eq!(p["path"], format!("{PUBLIC}/api/collections"));
    assert_eq!(
        p["first_page_url"],
        format!("{PUBLIC}/api/collections?per_page=2&page=1")
    );
}

async fn bill_filters(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Filters", None).await;
    let a = env.bill(&code, "A-1", "5.00", 1).await;
    let b = env.bill(&code, "B-2", "6.00", 1).await;
    let mut body = bill_body("C-3", "second", json!("7.00"), json!(1));
    body["customer"]["acc_no"] = json!("ACC-777");
    body["due"] = json!("2027-01-15");
    let c = env.post(&bills_path(&code), &body).await.ok().clone();
    env.pay(b["id"].as_i64().unwrap(), "SBX-F", "6.00");
    let nos = |r: &Answer| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["bill_no"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |f: &str| format!("{}?{f}", bills_path(&code));
    let no = |v: &Value| v["bill_no"].as_str().unwrap().to_string();
    let r = env.get(&q("filter[status]=4")).await;
    assert_eq!(nos(&r), vec![no(&b)]);
    let r = env.get(&q("filter[status]=paid")).await;
    assert_eq!(nos(&r), vec![no(&b)]);
    let r = env.get(&q("filter[status]=2")).await;
    assert_eq!(nos(&r), vec![no(&a), no(&c)]);
    let r = env.get(&q("filter[status]=2,4")).await;
    assert_eq!(r.ok()["total"], 3);
    let r = env.get(&q("filter[ref1]=A-1")).await;
    assert_eq!(nos(&r), vec![no(&a)]);
    let r = env.get(&q("filter[ref1]=A")).await;
    assert_eq!(r.ok()["total"], 0, "ref1 matches exactly");
    let r = env.get(&q("filter[ref2]=second")).await;
    assert_eq!(nos(&r), vec![no(&c)]);
    let r = env.get(&q("filter[acc_no]=ACC-777")).await;
    assert_eq!(nos(&r), vec![no(&c)]);
    let r = env.get(&q("filter[due_from]=2027-01-01")).await;
    assert_eq!(nos(&r), vec![no(&c)]);
    let r = env.get(&q(&format!("filter[due_to]={}", due()))).await;
    assert_eq!(nos(&r), vec![no(&a), no(&b)]);
    let r = env
        .get(&q(
            "filter[due_from]=2027-01-15&filter[due_to]=2027-01-15&filter[status]=active",
        ))
        .await;
    assert_eq!(nos(&r), vec![no(&c)]);
    // Unknown filter: 400 naming the allowed ones; bad values: 422.
    let r = env.get(&q("filter[amount]=5")).await;
    let m = r.err(400)["message"].as_str().unwrap().to_string();
    assert!(m.contains("amount") && m.contains("due_from"), "{m}");
    env.get(&q("filter[status]=9&filter[due_from]=soon"))
        .await
        .invalid(&["filter.status", "filter.due_from"]);
}

async fn update_and_cancel(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Upd", None).await;
    let b = env.bill(&code, "U-1", "10.00", 1).await;
    let path = bill_path(&code, &b);
    env.app.clock().advance(time::Duration::hours(1));
    let r = env
        .patch(
            &path,
            &json!({"due": "2027-02-01", "ref1": "U-1b", "ref2": "two", "currency": "USD"}),
        )
        .await;
    let u = r.ok();
    assert_eq!(u["due"], "2027-02-01");
    assert_eq!(u["ref1"], "U-1b");
    assert_eq!(u["ref2"], "two");
    assert_eq!(u["currency"], "USD");
    assert_eq!(u["total_amount"], "10.00");
    assert_eq!(u["status"], 2);
    assert_eq!(u["created_at"], "2026-11-21 11:00:00");
    assert_eq!(u["updated_at"], "2026-11-21 12:00:00");
    assert_eq!(u["id"], b["id"]);
    // An empty PATCH changes nothing.
    let r = env.patch(&path, &json!({})).await;
    assert_eq!(r.ok()["ref1"], "U-1b");
    // Cancel.
    let r = env.patch(&path, &json!({"cancel": true})).await;
    assert_eq!(r.ok()["status"], 5);
    assert_eq!(r.body["paid"], false);
    let events = env.db.bill_events(b["id"].as_i64().unwrap()).unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["created", "updated", "voided"]
    );
    // Cancelling again answers the bill as it is; changing it is forbidden.
    let r = env.patch(&path, &json!({"cancel": true})).await;
    assert_eq!(r.ok()["status"], 5);
    env.patch(&path, &json!({"ref1": "again"})).await.err(403);
    // A cancelled bill cannot be paid through any channel.
    let r = env
        .get(&format!("{}?filter[status]=cancelled", bills_path(&code)))
        .await;
    assert_eq!(r.ok()["total"], 1);
    // A paid bill: no cancel (403), no currency change (422); references may still change.
    let p = env.bill(&code, "U-2", "3.00", 1).await;
    env.pay(p["id"].as_i64().unwrap(), "SBX-U-2", "3.00");
    let ppath = bill_path(&code, &p);
    env.patch(&ppath, &json!({"cancel": true})).await.err(403);
    env.patch(&ppath, &json!({"currency": "USD"}))
        .await
        .invalid(&["currency"]);
    let r = env.patch(&ppath, &json!({"ref2": "receipt sent"})).await;
    assert_eq!(r.ok()["ref2"], "receipt sent");
    assert_eq!(r.body["status"], 4);
    assert_eq!(r.body["paid"], true);
    // `cancel: false` is no cancel.
    let q = env.bill(&code, "U-3", "3.00", 1).await;
    let r = env
        .patch(&bill_path(&code, &q), &json!({"cancel": false}))
        .await;
    assert_eq!(r.ok()["status"], 2);
    // Unknown bill.
    env.patch(
        &format!("/api/collections/{code}/bills/XXXXXXXX"),
        &json!({}),
    )
    .await
    .err(404);
}
