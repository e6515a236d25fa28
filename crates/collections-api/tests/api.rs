//! The collections dialect over HTTP, on SQLite and PostgreSQL: every endpoint, includes,
//! pagination, the seed's create request, validation, idempotency, tenant isolation, errors and
//! signed callbacks with retries.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on a broken expectation

mod common;

use billhub_core::signature::raudhahpay;
use billhub_store::testing::TestDb;
use billhub_store::{ReversalRequest, fingerprint};
use common::*;
use serde_json::{Value, json};

billhub_http::http_backend_tests!(
    seed_create_bill,
    create_bill_variants,
    includes_alone_and_combined,
    pagination_edges,
    bill_filters,
    update_and_cancel,
    payments_and_transactions,
    collections_crud,
    products_crud,
    customers_crud,
    tenant_isolation,
    validation_names_every_field,
    idempotency_replay_and_conflict,
    idempotency_under_concurrency,
    auth_and_error_shapes,
    rate_limit,
    callback_delivered_and_signed,
    callback_retried_after_failure,
);

/// The fields of a bill without includes, in the seed's order.
const BILL_FIELDS: [&str; 29] = [
    "id",
    "bill_no",
    "due",
    "status",
    "recurring",
    "recurring_end_date",
    "collection_id",
    "type",
    "account_id",
    "ref1",
    "ref2",
    "api_redirect",
    "created_at",
    "created_by",
    "updated_at",
    "currency",
    "quantity_label",
    "is_metric",
    "master_bill",
    "rbill_date",
    "bill_url",
    "payment_url",
    "forward_payment_url",
    "total_amount",
    "total_paid",
    "balance",
    "paid",
    "product_collections",
    "payments",
];

const PAGINATOR_FIELDS: [&str; 12] = [
    "current_page",
    "data",
    "first_page_url",
    "from",
    "last_page",
    "last_page_url",
    "next_page_url",
    "path",
    "per_page",
    "prev_page_url",
    "to",
    "total",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    k.sort();
    k.dedup();
    k
}

fn is_code8(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_timestamp(s: &str) -> bool {
    time::PrimitiveDateTime::parse(
        s,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .is_ok()
}

fn bills_path(code: &str) -> String {
    format!("/api/collections/{code}/bills")
}

fn bill_path(code: &str, bill: &Value) -> String {
    format!(
        "/api/collections/{code}/bills/{}",
        bill["bill_no"].as_str().unwrap()
    )
}

// ---------------------------------------------------------------------------------------------

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
    let r = env.get(&q("filter[status]=3")).await;
    assert_eq!(nos(&r), vec![no(&b)]);
    let r = env.get(&q("filter[status]=paid")).await;
    assert_eq!(nos(&r), vec![no(&b)]);
    let r = env.get(&q("filter[status]=2")).await;
    assert_eq!(nos(&r), vec![no(&a), no(&c)]);
    let r = env.get(&q("filter[status]=2,3")).await;
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
    assert_eq!(r.body["status"], 3);
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

async fn payments_and_transactions(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Pay", None).await;
    let b = env.bill(&code, "T-1", "25.00", 2).await;
    let id = b["id"].as_i64().unwrap();
    let payment = env.pay(id, "SBX-T-1", "50.00");
    let path = bill_path(&code, &b);
    let r = env.get(&path).await;
    let g = r.ok();
    assert_eq!(g["status"], 3);
    assert_eq!(g["paid"], true);
    assert_eq!(g["total_paid"], "50.00");
    assert_eq!(g["balance"], "0.00");
    let p = &g["payments"][0];
    assert_eq!(
        keys(p),
        sorted(&[
            "id",
            "bill_id",
            "amount",
            "currency",
            "status",
            "payment_method",
            "paid_at",
            "created_at",
            "updated_at"
        ])
    );
    assert_eq!(p["id"], payment.id);
    assert_eq!(p["bill_id"], id);
    // Transactions of the bill.
    let r = env.get(&format!("{path}/transactions")).await;
    let t = r.ok();
    assert_eq!(keys(t), sorted(&PAGINATOR_FIELDS));
    assert_eq!(t["total"], 1);
    let t0 = &t["data"][0];
    assert_eq!(t0["ref_id"], "SBX-T-1");
    assert_eq!(t0["bill_id"], id);
    assert_eq!(t0["bill_no"], b["bill_no"]);
    assert_eq!(t0["channel"], "sandbox");
    assert_eq!(t0["payment_method"], "fpx");
    assert_eq!(t0["amount"], "50.00");
    assert_eq!(t0["transaction_amount"], "50.00");
    assert_eq!(t0["status"], "success");
    assert!(t0.get("bill").is_none());
    let r = env
        .get(&format!("{path}/transactions?include=bill.collection"))
        .await;
    assert_eq!(
        r.ok()["data"][0]["bill"]["collection"]["code"],
        code.as_str()
    );
    let r = env
        .get(&format!("{path}/transactions/SBX-T-1?include=bill"))
        .await;
    assert_eq!(r.ok()["ref_id"], "SBX-T-1");
    assert_eq!(r.body["bill"]["bill_no"], b["bill_no"]);
    assert!(r.body["bill"].get("collection").is_none());
    env.get(&format!("{path}/transactions/NOPE")).await.err(404);
    env.get(&format!("{path}/transactions?include=account"))
        .await
        .err(400);
    // A reversal shows on the payment and the bill.
    env.db
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.a.org.id,
                payment_id: payment.id,
                channel: "sandbox".into(),
                channel_ref: "REV-T-1".into(),
                request_hash: fingerprint(&["REV-T-1"]),
                reason: "test".into(),
                window: None,
            },
            env.now(),
        )
        .unwrap();
    let r = env
        .get(&format!("{path}?include=payments.transaction"))
        .await;
    assert_eq!(r.ok()["status"], 2);
    assert_eq!(r.body["balance"], "50.00");
    assert_eq!(r.body["payments"][0]["status"], "reversed");
    assert_eq!(r.body["payments"][0]["transaction"]["status"], "reversed");
    // No payments yet: an empty page.
    let other = env.bill(&code, "T-2", "1.00", 1).await;
    let r = env
        .get(&format!("{}/transactions", bill_path(&code, &other)))
        .await;
    assert_eq!(r.ok()["total"], 0);
    assert_eq!(r.body["data"], json!([]));
}

async fn collections_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/collections",
            &json!({"name": "Yuran", "webhook_url": "https://m.example/hook", "redirect_url": "https://m.example/done"}),
        )
        .await;
    let c = r.ok().clone();
    assert_eq!(
        keys(&c),
        sorted(&[
            "id",
            "code",
            "name",
            "organization_id",
            "webhook_url",
            "redirect_url",
            "created_at",
            "updated_at"
        ])
    );
    let code = c["code"].as_str().unwrap();
    assert!(is_code8(code));
    assert_eq!(c["organization_id"], env.a.org.id);
    assert_eq!(c["created_at"], "2026-11-21 11:00:00");
    // Codes are unguessable and unique.
    let c2 = env.collection("Other", None).await;
    assert_ne!(c2, code);
    let r = env.get(&format!("/api/collections/{code}")).await;
    assert_eq!(r.ok(), &c);
    let r = env
        .get(&format!("/api/collections/{code}?include=organization"))
        .await;
    assert_eq!(r.ok()["organization"]["code"], "MERCHANTA");
    // PATCH by id (as the partner documents) and by code.
    let r = env
        .patch(
            &format!("/api/collections/{}", c["id"]),
            &json!({"name": "Yuran 2027", "webhook_url": null}),
        )
        .await;
    assert_eq!(r.ok()["name"], "Yuran 2027");
    assert!(r.body["webhook_url"].is_null());
    assert_eq!(r.body["redirect_url"], "https://m.example/done");
    assert_eq!(r.body["code"], code);
    let r = env
        .patch(
            &format!("/api/collections/{code}"),
            &json!({"redirect_url": ""}),
        )
        .await;
    assert!(r.ok()["redirect_url"].is_null());
    assert_eq!(r.body["name"], "Yuran 2027");
    let r = env.get("/api/collections?include=organization").await;
    assert_eq!(r.ok()["total"], 2);
    assert_eq!(r.body["data"][0]["organization"]["id"], env.a.org.id);
    env.get("/api/collections/ZZZZZZZZ").await.err(404);
    env.patch("/api/collections/999999", &json!({"name": "x"}))
        .await
        .err(404);
    env.get("/api/collections?include=bills").await.err(400);
}

async fn products_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/products",
            &json!({"title": "Yuran Bulanan", "code": "YB", "description": "Monthly fee", "price": 10}),
        )
        .await;
    let p = r.ok().clone();
    assert_eq!(p["price"], "10.00");
    assert!(p["currency"].is_null());
    assert!(p["product_id"].is_null());
    let id = p["id"].as_i64().unwrap();
    let path = format!("/api/products/{id}");
    assert_eq!(env.get(&path).await.ok(), &p);
    env.post(
        "/api/products",
        &json!({"title": "Buku", "price": "25.5", "currency": "MYR"}),
    )
    .await
    .ok();
    // PATCH
    let r = env
        .patch(&path, &json!({"price": "12.5", "description": "Monthly"}))
        .await;
    assert_eq!(r.ok()["price"], "12.50");
    assert_eq!(r.body["description"], "Monthly");
    assert_eq!(r.body["title"], "Yuran Bulanan");
    // Filters: partial and case-insensitive, price by value.
    let r = env.get("/api/products?filter[title]=yuran").await;
    assert_eq!(r.ok()["total"], 1);
    assert_eq!(r.body["data"][0]["id"], id);
    let r = env.get("/api/products?filter[price]=12.5").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env
        .get("/api/products?filter[code]=YB&filter[description]=month")
        .await;
    assert_eq!(r.ok()["total"], 1);
    let r = env.get("/api/products?filter[title]=100%25").await;
    assert_eq!(r.ok()["total"], 0, "% is not a wildcard");
    env.get("/api/products?filter[colour]=red").await.err(400);
    // A bill of the product keeps showing it after it is deleted.
    let code = env.collection("P", None).await;
    let mut body = bill_body("PR-1", "", json!("1"), json!(1));
    body["product"] = json!([{"id": id, "quantity": 2}]);
    let bill = env.post(&bills_path(&code), &body).await.ok().clone();
    assert_eq!(bill["total_amount"], "25.00");
    let r = env
        .call("DELETE", &path, Some(&env.a.token), None, &[])
        .await;
    assert_eq!(r.ok()["message"], "Product deleted.");
    env.get(&path).await.err(404);
    env.call("DELETE", &path, Some(&env.a.token), None, &[])
        .await
        .err(404);
    env.patch(&path, &json!({"title": "x"})).await.err(404);
    assert_eq!(env.get("/api/products").await.ok()["total"], 1);
    let r = env.get(&bill_path(&code, &bill)).await;
    assert_eq!(
        r.ok()["product_collections"][0]["product"]["title"],
        "Yuran Bulanan"
    );
    // A deleted product cannot be billed.
    env.post(&bills_path(&code), &body)
        .await
        .invalid(&["product.0.id"]);
    env.get("/api/products/abc").await.err(404);
}

async fn customers_crud(db: TestDb) {
    let env = setup(db).await;
    let r = env
        .post(
            "/api/customers",
            &json!({"acc_no": "CUST-1", "first_name": "Ali", "last_name": "Abu", "email": "ali@example.com", "mobile": "+60 12-345 6789", "address": "Shah Alam"}),
        )
        .await;
    let c = r.ok().clone();
    assert_eq!(c["acc_no"], "CUST-1");
    assert_eq!(c["mobile"], "+60 12-345 6789");
    let id = c["id"].as_i64().unwrap();
    let path = format!("/api/customers/{id}");
    assert_eq!(env.get(&path).await.ok(), &c);
    // The acc_no is taken now.
    env.post(
        "/api/customers",
        &json!({"acc_no": "CUST-1", "first_name": "B", "last_name": "C", "email": "b@example.com", "mobile": "60111111111"}),
    )
    .await
    .invalid(&["acc_no"]);
    // Without acc_no: generated.
    let r = env
        .post(
            "/api/customers",
            &json!({"first_name": "Mei", "last_name": "Ling", "email": "mei@example.com", "mobile": "60199999999"}),
        )
        .await;
    let gen_no = r.ok()["acc_no"].as_str().unwrap();
    assert_eq!(gen_no.len(), 12);
    // PATCH
    let r = env
        .patch(
            &path,
            &json!({"email": "ali@new.example", "last_name": "Bakar"}),
        )
        .await;
    assert_eq!(r.ok()["email"], "ali@new.example");
    assert_eq!(r.body["last_name"], "Bakar");
    assert_eq!(r.body["first_name"], "Ali");
    assert_eq!(r.body["acc_no"], "CUST-1");
    env.patch(&path, &json!({"acc_no": "OTHER"}))
        .await
        .invalid(&["acc_no"]);
    env.patch(&path, &json!({"email": "nope", "first_name": ""}))
        .await
        .invalid(&["email", "first_name"]);
    // The account is billhub's: its name shows to other channels.
    let acc = env.db.account(id).unwrap();
    assert_eq!(acc.name_latin, "Ali Bakar");
    assert_eq!(acc.phone, "+60 12-345 6789");
    // Filters.
    let r = env.get("/api/customers?filter[acc_no]=CUST-1").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env.get("/api/customers?filter[first_name]=mei").await;
    assert_eq!(r.ok()["data"][0]["last_name"], "Ling");
    let r = env.get("/api/customers?filter[mobile]=6019").await;
    assert_eq!(r.ok()["total"], 1);
    let r = env
        .get("/api/customers?filter[email]=EXAMPLE&per_page=1")
        .await;
    assert_eq!(r.ok()["total"], 2);
    assert_eq!(r.body["last_page"], 2);
    env.get("/api/customers?filter[group_id]=1").await.err(400);
    // An account made by another channel, with only a name, shows it as first_name.
    let other = env
        .db
        .upsert_account(
            env.a.org.id,
            &billhub_store::AccountInput {
                code: "CU003035".into(),
                name: "ញ៉េប នីម".into(),
                name_latin: "Nheb Nim".into(),
                phone: "010888999".into(),
                ..Default::default()
            },
            env.now(),
        )
        .unwrap();
    let r = env.get(&format!("/api/customers/{}", other.id)).await;
    assert_eq!(r.ok()["first_name"], "Nheb Nim");
    assert_eq!(r.body["last_name"], "");
    assert_eq!(r.body["mobile"], "010888999");
    env.get("/api/customers/999999").await.err(404);
    // A bill for this customer by acc_no.
    let code = env.collection("Cust", None).await;
    let mut body = bill_body("CU-1", "", json!("9.90"), json!(1));
    body["customer"] = json!({"acc_no": "CUST-1"});
    let b = env
        .post(&format!("{}?include=account", bills_path(&code)), &body)
        .await;
    assert_eq!(b.ok()["account"]["id"], id);
    assert_eq!(b.body["account"]["email"], "ali@new.example");
}

async fn tenant_isolation(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Private", None).await;
    let col = env
        .get(&format!("/api/collections/{code}"))
        .await
        .ok()
        .clone();
    let b = env.bill(&code, "SECRET", "10.00", 1).await;
    env.pay(b["id"].as_i64().unwrap(), "SBX-ISO", "10.00");
    let pid = env
        .post(
            "/api/products",
            &json!({"title": "Secret", "price": "1.00"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let cid = env
        .post(
            "/api/customers",
            &json!({"acc_no": "SHARED-NO", "first_name": "A", "last_name": "B", "email": "a@b.co", "mobile": "60123456789"}),
        )
        .await
        .ok()["id"]
        .as_i64()
        .unwrap();
    let bill = bill_path(&code, &b);
    let patch = json!({"name": "mine"});
    let new_bill = bill_body("X", "", json!("1.00"), json!(1));
    let product_patch = json!({"title": "mine"});
    let customer_patch = json!({"first_name": "mine"});
    let cancel = json!({"cancel": true});
    // Every route: another organization's collection, bill, product or customer is 404.
    let routes: Vec<(&str, String, Option<&Value>)> = vec![
        ("GET", format!("/api/collections/{code}"), None),
        ("GET", format!("/api/collections/{}", col["id"]), None),
        ("PATCH", format!("/api/collections/{code}"), Some(&patch)),
        (
            "PATCH",
            format!("/api/collections/{}", col["id"]),
            Some(&patch),
        ),
        ("GET", bills_path(&code), None),
        ("POST", bills_path(&code), Some(&new_bill)),
        ("GET", bill.clone(), None),
        ("PATCH", bill.clone(), Some(&cancel)),
        ("GET", format!("{bill}/transactions"), None),
        ("GET", format!("{bill}/transactions/SBX-ISO"), None),
        ("GET", format!("/api/products/{pid}"), None),
        (
            "PATCH",
            format!("/api/products/{pid}"),
            Some(&product_patch),
        ),
        ("DELETE", format!("/api/products/{pid}"), None),
        ("GET", format!("/api/customers/{cid}"), None),
        (
            "PATCH",
            format!("/api/customers/{cid}"),
            Some(&customer_patch),
        ),
    ];
    for (method, path, body) in &routes {
        let r = env.as_b(method, path, *body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        assert!(r.body["message"].is_string());
    }
    // Nothing changed for A.
    let r = env.get(&bill).await;
    assert_eq!(r.ok()["status"], 3);
    assert_eq!(
        env.get(&format!("/api/products/{pid}")).await.ok()["title"],
        "Secret"
    );
    assert_eq!(
        env.get(&format!("/api/customers/{cid}")).await.ok()["first_name"],
        "A"
    );
    assert_eq!(
        env.get(&format!("/api/collections/{code}")).await.ok()["name"],
        "Private"
    );
    // B's lists are its own.
    for list in ["/api/collections", "/api/products", "/api/customers"] {
        let r = env.as_b("GET", list, None).await;
        assert_eq!(r.ok()["total"], 0, "{list}");
    }
    // B cannot bill A's product, and A's acc_no is a different customer in B.
    let b_code = env
        .as_b("POST", "/api/collections", Some(&json!({"name": "B's"})))
        .await
        .ok()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body = bill_body("B-1", "", json!("1.00"), json!(1));
    body["product"] = json!([{"id": pid, "quantity": 1}]);
    env.as_b("POST", &bills_path(&b_code), Some(&body))
        .await
        .invalid(&["product.0.id"]);
    let mut body = bill_body("B-2", "", json!("1.00"), json!(1));
    body["customer"]["acc_no"] = json!("SHARED-NO");
    let r = env
        .as_b(
            "POST",
            &format!("{}?include=account", bills_path(&b_code)),
            Some(&body),
        )
        .await;
    assert_ne!(r.ok()["account"]["id"], cid);
    assert_eq!(r.body["account"]["organization_id"], env.b.org.id);
    assert_eq!(r.body["account"]["first_name"], "Siti");
    // A's bill number under B's own collection is still not found.
    env.as_b(
        "GET",
        &format!(
            "/api/collections/{b_code}/bills/{}",
            b["bill_no"].as_str().unwrap()
        ),
        None,
    )
    .await
    .err(404);
    // And A's customer is untouched by B's bill.
    assert_eq!(
        env.get(&format!("/api/customers/{cid}")).await.ok()["first_name"],
        "A"
    );
}

async fn validation_names_every_field(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("V", None).await;
    let path = bills_path(&code);
    // Nothing at all.
    env.post(&path, &json!({}))
        .await
        .invalid(&["due", "ref1", "ref2", "currency", "customer", "product"]);
    // Every bad field at once, with Laravel's message.
    let r = env
        .post(
            &path,
            &json!({
                "due": "25/06/2020",
                "ref1": "",
                "ref2": 5,
                "currency": "RM",
                "customer": {"first_name": "A", "email": "not-an-email", "mobile": "call me"},
                "product": [
                    {"title": "A", "price": "ten", "quantity": 1},
                    {"price": "1.00", "quantity": 0},
                    "nope"
                ]
            }),
        )
        .await;
    let body = r.invalid(&[
        "due",
        "ref1",
        "ref2",
        "currency",
        "customer.last_name",
        "customer.email",
        "customer.mobile",
        "product.0.price",
        "product.1.title",
        "product.1.quantity",
        "product.2",
    ]);
    assert_eq!(
        body["errors"]["customer.email"],
        json!(["The customer.email must be a valid email address."])
    );
    assert_eq!(
        body["errors"]["due"],
        json!(["The due does not match the format Y-m-d."])
    );
    assert_eq!(
        body["errors"]["ref1"],
        json!(["The ref1 field is required."])
    );
    // Amounts the currency cannot carry, and unknown products, are decided in one go too.
    let mut b = bill_body("V-1", "", json!("1"), json!(1));
    b["product"] = json!([
        {"title": "A", "price": "10.005", "quantity": 1},
        {"id": 999999, "quantity": 1},
        {"title": "C", "price": "0.01", "quantity": 0.5}
    ]);
    env.post(&path, &b)
        .await
        .invalid(&["product.0.price", "product.1.id", "product.2.quantity"]);
    let mut b = bill_body("V-2", "", json!("0"), json!(1));
    b["product"] = json!([{"title": "Free", "price": 0, "quantity": 1}]);
    env.post(&path, &b).await.invalid(&["product"]);
    let mut b = bill_body("V-3", "", json!("1"), json!(1));
    b["product"] = json!([]);
    env.post(&path, &b).await.invalid(&["product"]);
    let mut b = bill_body("V-4", "", json!("1"), json!(1));
    b["customer"] = json!("911111111111");
    env.post(&path, &b).await.invalid(&["customer"]);
    // Nothing was written by any of these.
    assert_eq!(env.get(&path).await.ok()["total"], 0);
    assert_eq!(env.get("/api/customers").await.ok()["total"], 0);
    assert_eq!(env.get("/api/products").await.ok()["total"], 0);
    // Malformed bodies are 400.
    let r = env
        .call(
            "POST",
            &path,
            Some(&env.a.token),
            None,
            &[("Content-Type", "application/json")],
        )
        .await;
    let m = r.err(400)["message"].as_str().unwrap().to_string();
    assert!(m.starts_with("Missing parameters"), "{m}");
    let raw = env
        .app
        .client
        .post(env.app.url(&path))
        .header("Authorization", format!("Bearer {}", env.a.token))
        .header("Content-Type", "application/json")
        .body("{\"due\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let v: Value = raw.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("not valid JSON"));
    env.post(&path, &json!([1, 2])).await.err(400);
    // The other resources.
    env.post(
        "/api/collections",
        &json!({"webhook_url": "ftp://x", "redirect_url": 3}),
    )
    .await
    .invalid(&["name", "webhook_url", "redirect_url"]);
    env.patch(&format!("/api/collections/{code}"), &json!({"name": ""}))
        .await
        .invalid(&["name"]);
    env.post("/api/products", &json!({"currency": "XXX", "price": -1}))
        .await
        .invalid(&["title", "currency", "price"]);
    env.post("/api/customers", &json!({"email": "x"}))
        .await
        .invalid(&["first_name", "last_name", "email", "mobile"]);
    let b = env.bill(&code, "V-5", "1.00", 1).await;
    env.patch(
        &bill_path(&code, &b),
        &json!({"due": "tomorrow", "currency": "ZZZ", "cancel": "maybe", "ref1": ""}),
    )
    .await
    .invalid(&["due", "currency", "cancel", "ref1"]);
}

async fn idempotency_replay_and_conflict(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Idem", None).await;
    let path = bills_path(&code);
    let body = bill_body("IDEM-1", "", json!("10.00"), json!(1));
    let key = [("Idempotency-Key", "order-1-attempt")];
    let first = env
        .call("POST", &path, Some(&env.a.token), Some(&body), &key)
        .await;
    first.ok();
    assert!(first.headers.get("idempotent-replayed").is_none());
    // Same key, same body (other spacing and key order): the first response, nothing new.
    env.app.clock().advance(time::Duration::hours(1));
    let spaced: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&body).unwrap()).unwrap();
    let again = env
        .call("POST", &path, Some(&env.a.token), Some(&spaced), &key)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, first.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(env.get(&path).await.ok()["total"], 1);
    // Same key, another body: 409.
    let other = bill_body("IDEM-2", "", json!("10.00"), json!(1));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&other), &key)
        .await;
    r.err(409);
    // Same key on another endpoint: another request, 409.
    env.call(
        "POST",
        "/api/collections",
        Some(&env.a.token),
        Some(&json!({"name": "x"})),
        &key,
    )
    .await
    .err(409);
    // Another organization's keys are its own.
    let b_code = env
        .as_b("POST", "/api/collections", Some(&json!({"name": "B"})))
        .await
        .ok()["code"]
        .as_str()
        .unwrap()
        .to_string();
    env.call(
        "POST",
        &bills_path(&b_code),
        Some(&env.b.token),
        Some(&body),
        &key,
    )
    .await
    .ok();
    // A refused request is not stored: the key can then be used for a valid one.
    let bad_key = [("Idempotency-Key", "order-3")];
    let mut bad = bill_body("IDEM-3", "", json!("10.00"), json!(1));
    bad["product"] = json!([{"id": 424242, "quantity": 1}]);
    env.call("POST", &path, Some(&env.a.token), Some(&bad), &bad_key)
        .await
        .invalid(&["product.0.id"]);
    let good = bill_body("IDEM-3", "", json!("3.00"), json!(1));
    env.call("POST", &path, Some(&env.a.token), Some(&good), &bad_key)
        .await
        .ok();
    // Every POST takes a key: products, customers, collections.
    for (p, b) in [
        ("/api/products", json!({"title": "K", "price": "1"})),
        (
            "/api/customers",
            json!({"first_name": "K", "last_name": "L", "email": "k@l.co", "mobile": "60123456789"}),
        ),
        ("/api/collections", json!({"name": "K"})),
    ] {
        let k = [("Idempotency-Key", p)];
        let one = env.call("POST", p, Some(&env.a.token), Some(&b), &k).await;
        let two = env.call("POST", p, Some(&env.a.token), Some(&b), &k).await;
        assert_eq!((one.status, &one.text), (two.status, &two.text), "{p}");
        assert_eq!(two.headers["idempotent-replayed"], "true");
    }
    assert_eq!(env.get("/api/products").await.ok()["total"], 1 + 1 + 1);
    // Keys are kept 24 hours; after that the same key starts afresh.
    env.app.clock().advance(time::Duration::hours(22));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&body), &key)
        .await;
    assert_eq!(r.text, first.text, "still within 24 hours");
    env.app.clock().advance(time::Duration::hours(2));
    let r = env
        .call("POST", &path, Some(&env.a.token), Some(&other), &key)
        .await;
    assert_ne!(r.ok()["bill_no"], first.body["bill_no"]);
    assert!(r.headers.get("idempotent-replayed").is_none());
    // A blank key is a 400.
    env.call(
        "POST",
        &path,
        Some(&env.a.token),
        Some(&body),
        &[("Idempotency-Key", " ")],
    )
    .await
    .err(400);
}

async fn idempotency_under_concurrency(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("Race", None).await;
    let path = bills_path(&code);
    let body = bill_body("RACE-1", "", json!("10.00"), json!(1));
    let key = [("Idempotency-Key", "race-key")];
    let answers = futures_util::future::join_all(
        (0..6).map(|_| env.call("POST", &path, Some(&env.a.token), Some(&body), &key)),
    )
    .await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.text, answers[0].text);
    }
    let replayed = answers
        .iter()
        .filter(|a| a.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 5);
    assert_eq!(env.get(&path).await.ok()["total"], 1);
    assert_eq!(env.get("/api/customers").await.ok()["total"], 1);
}

async fn auth_and_error_shapes(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("E", None).await;
    for (token, scheme) in [
        (None, ""),
        (Some("wrong-token"), "Bearer"),
        (Some(env.a.token.as_str()), "Basic"),
    ] {
        let mut req = env.app.client.get(env.app.url("/api/collections"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("{scheme} {t}"));
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"message": "Unauthenticated."}));
    }
    // Every route wants the token.
    for (m, p) in [
        ("POST", bills_path(&code)),
        ("GET", "/api/products".to_string()),
        ("PATCH", "/api/customers/1".to_string()),
        ("DELETE", "/api/products/1".to_string()),
    ] {
        env.call(m, &p, None, Some(&json!({})), &[]).await.err(401);
    }
    // A revoked credential is refused.
    let extra = env
        .db
        .create_credential(env.a.org.id, "collections", false, env.now())
        .unwrap();
    let t = extra.access_token.clone().unwrap();
    env.call("GET", "/api/collections", Some(&t), None, &[])
        .await
        .ok();
    env.db.revoke_credential(extra.id, env.now()).unwrap();
    env.call("GET", "/api/collections", Some(&t), None, &[])
        .await
        .err(401);
    // Another dialect's token is not a collections token.
    let b24 = env
        .db
        .create_credential(env.a.org.id, "bill24", false, env.now())
        .unwrap();
    env.call("GET", "/api/collections", b24.token.as_deref(), None, &[])
        .await
        .err(401);
    // 404 and 405 as JSON.
    let r = env.get("/api/nothing-here").await;
    r.err(404);
    let r = env
        .call("DELETE", "/api/collections", Some(&env.a.token), None, &[])
        .await;
    r.err(405);
    let r = env
        .call("PUT", &bills_path(&code), Some(&env.a.token), None, &[])
        .await;
    r.err(405);
    // 413 as JSON.
    let huge = "x".repeat(300 * 1024);
    let r = env.post(&bills_path(&code), &json!({"ref1": huge})).await;
    r.err(413);
}

async fn rate_limit(db: TestDb) {
    let env = setup(db).await;
    env.db
        .set_setting(
            env.a.org.id,
            "collections.requests_per_minute",
            "3",
            env.now(),
        )
        .unwrap();
    for _ in 0..3 {
        env.get("/api/collections").await.ok();
    }
    let r = env.get("/api/collections").await;
    r.err(429);
    assert_eq!(r.body["message"], "Too Many Attempts.");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(r.headers["x-ratelimit-limit"], "3");
    // Another organization has its own limit.
    env.as_b("GET", "/api/collections", None).await.ok();
    // The next minute, the token may call again.
    env.app.clock().advance(time::Duration::seconds(60));
    env.get("/api/collections").await.ok();
}

async fn callback_delivered_and_signed(db: TestDb) {
    let env = setup(db).await;
    let receiver = Receiver::start(&[]).await;
    let code = env.collection("CB", Some(&receiver.url)).await;
    let b = env.bill(&code, "ORDER-77", "10.00", 1).await;
    let id = b["id"].as_i64().unwrap();
    let payment = env.pay(id, "RP-20261121-0001", "10.00");
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let cb = &got[0];
    assert_eq!(cb.content_type, "application/x-www-form-urlencoded");
    assert!(!cb.event_id.is_empty());
    let names: Vec<String> = cb.fields().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        names,
        vec![
            "ref_id",
            "bill_id",
            "bill_no",
            "ref1",
            "ref2",
            "payment_method",
            "status",
            "paid",
            "currency",
            "amount",
            "signature"
        ]
    );
    assert_eq!(cb.field("ref_id"), "RP-20261121-0001");
    assert_eq!(cb.field("bill_id"), id.to_string());
    assert_eq!(cb.field("bill_no"), b["bill_no"].as_str().unwrap());
    assert_eq!(cb.field("ref1"), "ORDER-77");
    assert_eq!(cb.field("ref2"), "");
    assert_eq!(cb.field("payment_method"), "fpx");
    assert_eq!(cb.field("status"), "success");
    assert_eq!(cb.field("paid"), "true");
    assert_eq!(cb.field("currency"), "MYR");
    assert_eq!(cb.field("amount"), "10.00");
    // The signature verifies with the organization's key, as a merchant checks it.
    let fields = cb.fields();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(raudhahpay::verify(
        &env.a.signature_key,
        pairs.iter().copied()
    ));
    assert!(!raudhahpay::verify(
        &env.b.signature_key,
        pairs.iter().copied()
    ));
    let expected = raudhahpay::sign(
        &env.a.signature_key,
        pairs.iter().copied().filter(|(k, _)| *k != "signature"),
    );
    assert_eq!(cb.field("signature"), expected);
    assert_eq!(expected.len(), 64);
    // Delivered once: nothing more to send.
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
    // A reversal is announced too, the bill no longer paid.
    env.db
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.a.org.id,
                payment_id: payment.id,
                channel: "sandbox".into(),
                channel_ref: "REV-1".into(),
                request_hash: fingerprint(&["REV-1"]),
                reason: "chargeback".into(),
                window: None,
            },
            env.now(),
        )
        .unwrap();
    let report = env.app.run_worker_once().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let got = receiver.received();
    let rev = &got[1];
    assert_eq!(rev.field("status"), "reversed");
    assert_eq!(rev.field("paid"), "false");
    assert_eq!(rev.field("amount"), "10.00");
    assert_eq!(rev.field("ref_id"), "RP-20261121-0001");
    assert_ne!(rev.event_id, cb.event_id);
    let fields = rev.fields();
    assert!(raudhahpay::verify(
        &env.a.signature_key,
        fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    ));
    // A bill of a collection without webhook_url sends nothing.
    let quiet = env.collection("Quiet", None).await;
    let q = env.bill(&quiet, "Q", "1.00", 1).await;
    env.pay(q["id"].as_i64().unwrap(), "SBX-Q", "1.00");
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
}

async fn callback_retried_after_failure(db: TestDb) {
    let env = setup(db).await;
    // The receiver fails first, then answers 500 with RECEIVEOK (which acknowledges too).
    let receiver = Receiver::start(&[(500, "oops"), (500, "RECEIVEOK")]).await;
    let code = env.collection("Retry", Some(&receiver.url)).await;
    let b = env.bill(&code, "R-1", "12.34", 1).await;
    env.pay(b["id"].as_i64().unwrap(), "SBX-R-1", "12.34");
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.retried), (1, 1), "{report:?}");
    let deliveries = env.db.deliveries_for_organization(env.a.org.id).unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, "pending");
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(deliveries[0].last_status, Some(500));
    assert_eq!(
        deliveries[0].next_attempt_at,
        env.now() + time::Duration::minutes(1)
    );
    // Not before the delay.
    assert_eq!(env.app.run_worker_once().await.claimed, 0);
    env.app.clock().advance(time::Duration::seconds(61));
    let report = env.app.run_worker_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    // The same callback both times, with the same event id.
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(got[0].event_id, got[1].event_id);
    assert_eq!(got[1].field("amount"), "12.34");
    let deliveries = env.db.deliveries_for_organization(env.a.org.id).unwrap();
    assert_eq!(deliveries[0].status, "delivered");
    assert_eq!(deliveries[0].attempts, 2);
}
