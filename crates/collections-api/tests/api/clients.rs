//! The partner's real clients (issue 11): each test replays a client's requests as it sends
//! them (same JSON types, headers and encodings) and reads the answers as it reads them. The
//! PHP plugins (WooCommerce, Gravity Forms) compare loosely (`==`) and test truthiness, so
//! `paid` is checked with PHP's rules; rpclient (afiqiqmal/Rpclient) merges its query into
//! the JSON body of POST and PATCH; the PyPI client sends references as given and float prices.

use billhub_core::Currency;
use billhub_core::signature::hmac_sha256_hex;
use billhub_store::{NewBill, OnRejection, PaymentRequest, PaymentTarget};

use super::*;

/// The fields the WooCommerce and Gravity Forms plugins allow-list (`ALLOWED_KEY`), in the
/// order billhub sends them.
const ALLOWED_KEY: [&str; 11] = [
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
    "signature",
];

/// A request with a raw body, exactly as a client writes it.
async fn raw(env: &Env, method: &str, path: &str, content_type: &str, body: &str) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = env
        .app
        .client
        .request(method, env.app.url(path))
        .header("Accept", "application/json")
        .header("Content-Type", content_type)
        .header("Authorization", format!("Bearer {}", env.a.token))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        text,
        body,
    }
}

async fn json_raw(env: &Env, method: &str, path: &str, body: &str) -> Answer {
    raw(env, method, path, "application/json", body).await
}

/// PHP's truthiness of a string (`if ($x)`, and `$x == true`): `""` and `"0"` are false.
fn php_truthy(s: &str) -> bool {
    !(s.is_empty() || s == "0")
}

/// The plugins' `hashData`: `ksort`, skip `signature`, `key:value` joined with `|`,
/// `hash_hmac('sha256', ..., $signatureKey)`, compared with `!==`.
fn plugin_signature_ok(fields: &[(String, String)], key: &str) -> bool {
    let mut kept: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| ALLOWED_KEY.contains(&k.as_str()))
        .cloned()
        .collect();
    kept.sort();
    let supplied = kept
        .iter()
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let message = kept
        .iter()
        .filter(|(k, _)| k != "signature")
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join("|");
    hmac_sha256_hex(key.as_bytes(), message.as_bytes()) == supplied
}

/// The bill page's way back to the shop (the link's query as pairs, the URL before it), if
/// it offers one.
async fn return_link(env: &Env, bill_no: &str) -> Option<(String, Vec<(String, String)>)> {
    let page = env
        .app
        .client
        .get(env.app.url(&format!("/b/{bill_no}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let at = html.find("<p class=\"return\"><a href=\"")?;
    let rest = &html[at + "<p class=\"return\"><a href=\"".len()..];
    let href = &rest[..rest.find('"').unwrap()];
    let href = href
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/");
    let (base, query) = href.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    Some((base.to_string(), pairs))
}

fn pairs_get<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

fn reverse(env: &Env, payment_id: i64, reference: &str) {
    env.db
        .reverse_payment(
            &billhub_store::ReversalRequest {
                organization_id: env.a.org.id,
                payment_id,
                channel: "sandbox".into(),
                channel_ref: reference.into(),
                request_hash: fingerprint(&[reference]),
                reason: "chargeback".into(),
                requester: billhub_core::reversal::Requester::Channel,
                claimed: billhub_core::reversal::Claimed::Nothing,
                window: None,
            },
            env.now(),
        )
        .unwrap();
}

/// WooCommerce: the bill as `process_payment` creates it (integer `ref2`, a `Shipping` line
/// priced `0`), the callbacks as `processIpnResponse` reads them (allow-listed fields, its own
/// signature check, `paid == true`), and the return `GET` the hosted page offers.
async fn woocommerce_order_paid_reversed_and_returned(db: TestDb) {
    let env = setup(db).await;
    let receiver = Receiver::start(&[]).await;
    let shop = "https://shop.test/?wc-api=WC_Raudhahpay_Gateway";
    let col = env
        .post(
            "/api/collections",
            &json!({"name": "Woo", "webhook_url": receiver.url, "redirect_url": shop}),
        )
        .await;
    let code = col.ok()["code"].as_str().unwrap().to_string();
    // json_encode of the plugin's params: ref2 is `$order->get_id()` (an int), the order line
    // `get_total() - get_shipping_total()` (a float), Shipping `?: 0` (an int).
    let body = r#"{"due":"2026-11-21","currency":"MYR","ref1":"WOO","ref2":1234,"customer":{"first_name":"Siti","last_name":"Aminah","address":"Siti Aminah<br\/>Jalan Ampang<br\/>50450 Kuala Lumpur","email":"siti@example.com","mobile":"012-345 6789"},"product":[{"title":"Order (1234)","quantity":1,"price":20.5},{"title":"Shipping","quantity":1,"price":0}]}"#;
    let r = json_raw(
        &env,
        "POST",
        &format!("/api/collections/{code}/bills?include=product-collections.product"),
        body,
    )
    .await;
    // `$responseCode !== 200`, then `$body['id']` and `$body['payment_url']`.
    assert_eq!(r.status, 200, "{}", r.text);
    let bill = r.body.clone();
    assert!(bill["id"].is_i64());
    let no = bill["bill_no"].as_str().unwrap().to_string();
    assert_eq!(bill["payment_url"], format!("{PUBLIC}/b/{no}"));
    assert_eq!(bill["ref2"], "1234");
    assert_eq!(bill["total_amount"], "20.50");
    assert_eq!(bill["status"], 2);
    assert_eq!(
        bill["product_collections"][1]["product"]["title"],
        "Shipping"
    );
    assert_eq!(bill["product_collections"][1]["product"]["price"], "0.00");
    // Not paid yet: the page offers no return.
    assert!(return_link(&env, &no).await.is_none());

    let id = bill["id"].as_i64().unwrap();
    let first = env.pay(id, "FPX-0001", "20.50");
    assert_eq!(env.app.run_worker_once().await.delivered, 1);
    let got = receiver.received();
    let cb = got[0].fields();
    let names: Vec<&str> = cb.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ALLOWED_KEY, "exactly the allow-listed fields");
    assert!(plugin_signature_ok(&cb, &env.a.signature_key));
    let field = |f: &[(String, String)], n: &str| pairs_get(f, n).to_string();
    let ref_id = format!("{no}__20261121110000");
    assert_eq!(field(&cb, "ref_id"), ref_id);
    assert_eq!(field(&cb, "ref2"), "1234");
    assert_eq!(field(&cb, "status"), "4");
    assert_eq!(field(&cb, "paid"), "1");
    assert!(
        php_truthy(&field(&cb, "paid")),
        "`paid == true`: the order completes"
    );
    assert_eq!(field(&cb, "amount"), "20.50");

    // The hosted page now offers the return: a GET to redirect_url with the same fields.
    let (base, q) = return_link(&env, &no).await.expect("a return link");
    assert_eq!(base, "https://shop.test/");
    assert_eq!(pairs_get(&q, "wc-api"), "WC_Raudhahpay_Gateway");
    // `validGetIpnRequest`: ref2, paid, status and signature are set; the allow-listed fields
    // verify with the plugin's check and equal the callback's.
    let allowed: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| ALLOWED_KEY.contains(&k.as_str()))
        .cloned()
        .collect();
    assert_eq!(allowed, cb);
    assert!(plugin_signature_ok(&q, &env.a.signature_key));

    // A reversal: `paid` is '0', falsy for `== true` (before: "false", which PHP reads as true).
    reverse(&env, first.id, "REV-0001");
    assert_eq!(env.app.run_worker_once().await.delivered, 1);
    let rev = receiver.received()[1].fields();
    assert_eq!(field(&rev, "paid"), "0");
    assert!(!php_truthy(&field(&rev, "paid")));
    assert_eq!(field(&rev, "status"), "2");
    assert_eq!(field(&rev, "ref_id"), ref_id);
    assert!(plugin_signature_ok(&rev, &env.a.signature_key));
    assert!(return_link(&env, &no).await.is_none());

    // Paid again in the same second: the second payment's ref_id is `-2`.
    env.pay(id, "FPX-0002", "20.50");
    assert_eq!(env.app.run_worker_once().await.delivered, 1);
    let again = receiver.received()[2].fields();
    assert_eq!(field(&again, "ref_id"), format!("{ref_id}-2"));
    assert_eq!(field(&again, "paid"), "1");
    let (_, q) = return_link(&env, &no).await.expect("a return link");
    assert_eq!(pairs_get(&q, "ref_id"), format!("{ref_id}-2"));
    assert!(plugin_signature_ok(&q, &env.a.signature_key));

    // rpclient's getTransactions reads a transaction by the ref_id a callback carried.
    let r = env
        .get(&format!(
            "/api/collections/{code}/bills/{no}/transactions/{ref_id}-2?include=bill.collection"
        ))
        .await;
    assert_eq!(r.ok()["ref_id"], "FPX-0002");
    assert_eq!(r.body["bill"]["collection"]["code"], code);
}

/// WooCommerce's float prices: `total - shipping` as PHP prints it (`20.199999999999996`) is
/// 20.20 (core's money parser reads binary-float noise; see DESIGN.md, money at the edges).
async fn woocommerce_float_price(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("WooF", None).await;
    let body = r#"{"due":"2026-11-21","currency":"MYR","ref1":"WOO","ref2":1235,"customer":{"first_name":"Siti","last_name":"Aminah","address":"KL","email":"siti@example.com","mobile":"0123456789"},"product":[{"title":"Order (1235)","quantity":1,"price":20.199999999999996},{"title":"Shipping","quantity":1,"price":0}]}"#;
    let r = json_raw(
        &env,
        "POST",
        &format!("/api/collections/{code}/bills?include=product-collections.product"),
        body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total_amount"], "20.20");
    // More decimals than MYR has, and not float noise: refused as before.
    let body = body.replace("20.199999999999996", "10.505");
    let r = json_raw(&env, "POST", &bills_path(&code), &body).await;
    r.invalid(&["product.0.price"]);
}

/// A partial payment (a bill with the `partial` rule, made elsewhere): status `3`, paid `'0'`.
async fn partial_payment_callback_is_not_paid(db: TestDb) {
    let env = setup(db).await;
    let receiver = Receiver::start(&[]).await;
    let code = env.collection("Part", Some(&receiver.url)).await;
    let first = env.bill(&code, "P-1", "10.00", 1).await;
    let first = env
        .db
        .bill_by_public_no(env.a.org.id, first["bill_no"].as_str().unwrap())
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
                rule: billhub_core::PaymentRule::Partial { minimum: None },
                source: "collections".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            env.now(),
        )
        .unwrap();
    env.pay(partial.id, "SBX-P-2", "4.00");
    assert_eq!(env.app.run_worker_once().await.delivered, 1);
    let cb = receiver.received()[0].fields();
    assert_eq!(pairs_get(&cb, "status"), "3");
    assert_eq!(pairs_get(&cb, "paid"), "0");
    assert!(!php_truthy(pairs_get(&cb, "paid")));
    assert_eq!(pairs_get(&cb, "amount"), "4.00");
    let r = env
        .get(&format!(
            "/api/collections/{code}/bills/{}",
            partial.public_no
        ))
        .await;
    assert_eq!(r.ok()["status"], 3);
    assert_eq!(r.body["paid"], false);
    // Paid in full within the same second: status `4`, paid `'1'`, ref_id `-2`.
    let req = PaymentRequest {
        organization_id: env.a.org.id,
        channel: "sandbox".into(),
        channel_ref: "SBX-P-3".into(),
        request_hash: fingerprint(&["SBX-P-3"]),
        target: PaymentTarget::Bill {
            bill_id: partial.id,
        },
        amount: billhub_core::Money::from_minor(600, Currency::MYR),
        fee: 0,
        method: "fpx".into(),
        payer_name: String::new(),
        details: "{}".into(),
        paid_at: env.now(),
        on_rejection: OnRejection::Refuse,
    };
    env.db.post_payment(&req, env.now()).unwrap();
    assert_eq!(env.app.run_worker_once().await.delivered, 1);
    let cb = receiver.received()[1].fields();
    assert_eq!(pairs_get(&cb, "status"), "4");
    assert_eq!(pairs_get(&cb, "paid"), "1");
    assert_eq!(
        pairs_get(&cb, "ref_id"),
        format!("{}__20261121110000-2", partial.public_no)
    );
}

/// Gravity Forms (`ref1` the entry id, an int; a float amount) and the PyPI client (`ref1 =
/// ref2 =` whatever it was given, here an int; a float price; due tomorrow).
async fn gravity_forms_and_pypi_bills(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("GF", None).await;
    let gf = r#"{"due":"2026-11-21","currency":"MYR","ref1":17,"ref2":"GF1795230000","customer":{"first_name":"Ali","last_name":"Abu","address":"Jalan 1 Jalan 2","email":"ali@example.com","mobile":"60123456780"},"product":[{"title":"Order (GF1795230000)","quantity":1,"price":35.5}]}"#;
    let r = json_raw(
        &env,
        "POST",
        &format!("/api/collections/{code}/bills?include=product-collections.product"),
        gf,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ref1"], "17");
    assert_eq!(r.body["total_amount"], "35.50");
    // requests.post(url, json=data): Python floats print as `10.0`.
    let py = r#"{"due": "2026-11-22", "currency": "MYR", "ref1": 42, "ref2": 42, "customer": {"first_name": "Ali", "last_name": "Abu", "address": "KL", "email": "ali@example.com", "mobile": "60123456780"}, "product": [{"title": "Yuran", "price": 10.0, "quantity": 3}]}"#;
    let r = json_raw(&env, "POST", &bills_path(&code), py).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.body["ref1"], &r.body["ref2"]),
        (&json!("42"), &json!("42"))
    );
    assert_eq!(r.body["total_amount"], "30.00");
    // A reference that is neither text nor a number is still refused.
    let bad = py.replace(r#""ref1": 42"#, r#""ref1": [42]"#);
    json_raw(&env, "POST", &bills_path(&code), &bad)
        .await
        .invalid(&["ref1"]);
}

/// rpclient's default reads and writes: includes on products and customers, the include in
/// the JSON body of POST and PATCH, and `null` for unchanged fields of a customer update.
async fn rpclient_includes_and_body_query(db: TestDb) {
    let env = setup(db).await;
    let code = env.collection("RP", None).await;
    // RPProduct::create: the body merged with ['include' => 'organization'].
    let r = json_raw(
        &env,
        "POST",
        "/api/products",
        r#"{"title":"Yuran","code":"YB","description":"Monthly","price":12.5,"include":"organization"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pid = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["price"], "12.50");
    assert_eq!(r.body["organization"]["id"], env.a.org.id);
    assert_eq!(r.body["organization"]["code"], "MERCHANTA");
    // RPBillDetail::create with this product, `ref2` null, include in the body.
    let bill = json_raw(
        &env,
        "POST",
        &format!("/api/collections/{code}/bills"),
        &format!(
            r#"{{"due":"2026-11-22","currency":"MYR","ref1":"RP-1","ref2":null,"customer":{{"first_name":"Ali","last_name":"Abu","address":"KL","email":"ali@example.com","mobile":"60123456780"}},"product":[{{"id":{pid},"title":"Yuran","price":12.5,"quantity":2}}],"include":"account"}}"#
        ),
    )
    .await;
    assert_eq!(bill.status, 200, "{}", bill.text);
    assert!(
        bill.body["account"]["acc_no"].is_string(),
        "body include honoured"
    );
    let bill_no = bill.body["bill_no"].as_str().unwrap().to_string();
    // RPProduct::getList / get: include=organization,product-collections.bill (Zttp GET query).
    let list = env
        .get("/api/products?include=organization%2Cproduct-collections.bill&page=1")
        .await;
    let item = list.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == pid)
        .unwrap()
        .clone();
    assert_eq!(item["organization"]["name"], "Kedai Runcit A");
    let lines = item["product_collections"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["quantity"], json!(2.0));
    assert_eq!(lines[0]["bill"]["bill_no"], bill_no);
    assert_eq!(lines[0]["bill"]["status"], 2);
    assert_eq!(lines[0]["bill"]["total_amount"], "25.00");
    let one = env
        .get(&format!(
            "/api/products/{pid}?include=organization,product-collections.bill"
        ))
        .await;
    assert_eq!(
        one.ok()["product_collections"][0]["bill"]["bill_no"],
        bill_no
    );
    // Only the lines, without the bill.
    let one = env
        .get(&format!("/api/products/{pid}?include=product-collections"))
        .await;
    assert!(one.ok()["product_collections"][0].get("bill").is_none());
    assert!(one.body.get("organization").is_none());
    // RPProduct::update: PATCH with the include in the body; `price` null leaves it.
    let r = json_raw(
        &env,
        "PATCH",
        &format!("/api/products/{pid}"),
        r#"{"title":"Yuran Baru","code":"YB","description":"Monthly","price":null,"include":"organization,product-collections.bill"}"#,
    )
    .await;
    assert_eq!(r.ok()["title"], "Yuran Baru");
    assert_eq!(r.body["price"], "12.50");
    assert_eq!(r.body["product_collections"][0]["bill"]["bill_no"], bill_no);
    assert_eq!(r.body["organization"]["id"], env.a.org.id);
    // RPCustomer::create (address null) with include=organization in the body.
    let r = json_raw(
        &env,
        "POST",
        "/api/customers",
        r#"{"first_name":"Ali","last_name":"Abu","mobile":"60123456781","email":"ali@example.com","address":null,"include":"organization"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cid = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["organization"]["id"], env.a.org.id);
    // RPCustomer::getList: include=organization,account-groups.group.
    let list = env
        .get("/api/customers?include=organization%2Caccount-groups.group&page=1")
        .await;
    for c in list.ok()["data"].as_array().unwrap() {
        assert_eq!(c["account_groups"], json!([]));
        assert_eq!(c["organization"]["code"], "MERCHANTA");
    }
    // RPCustomer::update: every field sent, null when unchanged.
    let r = json_raw(
        &env,
        "PATCH",
        &format!("/api/customers/{cid}"),
        r#"{"first_name":null,"last_name":"Bakar","mobile":null,"email":null,"address":"Jalan 3","include":"organization"}"#,
    )
    .await;
    assert_eq!(r.ok()["first_name"], "Ali");
    assert_eq!(r.body["last_name"], "Bakar");
    assert_eq!(r.body["mobile"], "60123456781");
    assert_eq!(r.body["email"], "ali@example.com");
    assert_eq!(r.body["address"], "Jalan 3");
    assert_eq!(r.body["organization"]["id"], env.a.org.id);
    // RPCollection::updateCollectionName: PATCH {name, include} by id.
    let cid_col = env.get(&format!("/api/collections/{code}")).await.ok()["id"].clone();
    let r = json_raw(
        &env,
        "PATCH",
        &format!("/api/collections/{cid_col}"),
        r#"{"name":"RP renamed","include":"organization"}"#,
    )
    .await;
    assert_eq!(r.ok()["name"], "RP renamed");
    assert_eq!(r.body["organization"]["code"], "MERCHANTA");
    // Other includes stay 400, in the query or in the body.
    let r = env.get("/api/customers?include=organization,groups").await;
    r.err(400);
    assert!(r.body["message"].as_str().unwrap().contains("`groups`"));
    env.get("/api/products?include=account").await.err(400);
    json_raw(
        &env,
        "POST",
        "/api/customers",
        r#"{"first_name":"A","last_name":"B","mobile":"60123456782","email":"a@b.co","include":"bogus"}"#,
    )
    .await
    .err(400);
}

/// Form bodies, as Laravel takes them: PHP's bracket nesting (`http_build_query` encodes the
/// brackets) reads like the JSON body.
async fn form_bodies_read_like_json(db: TestDb) {
    let env = setup(db).await;
    let form = "application/x-www-form-urlencoded";
    let r = raw(
        &env,
        "POST",
        "/api/collections",
        form,
        "name=Borang&redirect_url=https%3A%2F%2Fshop.test%2Fthanks",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["redirect_url"], "https://shop.test/thanks");
    let code = r.body["code"].as_str().unwrap().to_string();
    let body = format!(
        "due={}&ref1=F-1&ref2=&currency=MYR\
         &customer%5Bfirst_name%5D=Siti&customer%5Blast_name%5D=Aminah\
         &customer%5Bemail%5D=siti%40example.com&customer%5Bmobile%5D=60123456789\
         &product%5B0%5D%5Btitle%5D=Yuran&product%5B0%5D%5Bprice%5D=10.50&product%5B0%5D%5Bquantity%5D=2\
         &product[1][title]=Buku&product[1][price]=5&product[1][quantity]=1&include=account",
        due()
    );
    let r = raw(&env, "POST", &bills_path(&code), form, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total_amount"], "26.00");
    assert_eq!(r.body["ref2"], "");
    assert_eq!(r.body["account"]["email"], "siti@example.com");
    assert_eq!(r.body["product_collections"][1]["product"]["title"], "Buku");
    let path = bill_path(&code, &r.body);
    let r = raw(&env, "PATCH", &path, form, "ref2=sent&cancel=0").await;
    assert_eq!(r.ok()["ref2"], "sent");
    assert_eq!(r.body["status"], 2);
    // Validation names the same dotted fields as for JSON.
    let r = raw(
        &env,
        "POST",
        &bills_path(&code),
        form,
        "due=x&ref1=F&ref2=&currency=MYR&customer[acc_no]=C-1&product[0][title]=A&product[0][price]=1.005&product[0][quantity]=1",
    )
    .await;
    r.invalid(&["due", "product.0.price"]);
    // `tags[]=a` appends; a key with unbalanced brackets is a 400.
    raw(&env, "POST", &bills_path(&code), form, "product[0=1")
        .await
        .err(400);
    let r = raw(
        &env,
        "POST",
        "/api/products",
        form,
        "title=T&price=2&x[]=a&x[]=b",
    )
    .await;
    assert_eq!(r.ok()["price"], "2.00");
}

billhub_http::http_backend_tests!(
    woocommerce_order_paid_reversed_and_returned,
    woocommerce_float_price,
    partial_payment_callback_is_not_paid,
    gravity_forms_and_pypi_bills,
    rpclient_includes_and_body_query,
    form_bodies_read_like_json,
);
