//! Issue 11: what IPG's real clients send, replayed as they send it. PHP `DATE_ISO8601` dates
//! (`+0700`) and dates without seconds, `type` in any case, amounts in exponent form (PHP and
//! JavaScript print floats so), the passive-client scheme (`Signature` alone, for a bank whose
//! channel has `va.auth=passive`), and the sandbox mock as a signed `GET`.

use crate::prelude::*;

billhub_http::http_backend_tests!(
    php_dates_and_any_case_type,
    dates_in_queries_and_channel_times,
    exponent_amounts,
    passive_bank_signs_alone,
    passive_refusals,
    mock_answers_get,
);

/// A create body as a PHP client writes it (`json_encode`): `\/` escaped, the dates and the
/// type as given. `total` is written as given (a PHP float prints `100000.0`, a large one
/// `1.0e+25`).
fn php_create(va_number: &str, kind: &str, total: &str, valid_until: &str) -> Vec<u8> {
    format!(
        r#"{{"va_number":"{va_number}","invoice_number":"INV01\/{va_number}","prefix":"009902","name":"SPP Jan 22","total_amount":{total},"institution_code":"E9KP2ZQ6","type":"{kind}","valid_until":"{valid_until}","components":[{{"name":"SPP Januari","qty":1,"price":{total},"total":{total}}}],"customer_name":"Budi Santoso"}}"#
    )
    .into_bytes()
}

impl Va {
    /// Sends raw bytes as a biller, signed over them.
    async fn biller_raw(&self, method: Method, path: &str, body: &[u8]) -> Answer {
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let sig = ipg::sign(&self.biller.api_key, body, query);
        self.send_raw(method, path, Some(&self.biller.token), Some(&sig), body)
            .await
    }

    /// Sends raw bytes as a bank, signed over them with its bearer token.
    async fn bank_raw(&self, path: &str, body: &[u8]) -> Answer {
        let sig = ipg::sign(&self.bank.api_key, body, "");
        self.send_raw(Method::POST, path, Some(&self.bank.token), Some(&sig), body)
            .await
    }

    /// A passive bank's request: `Signature` with `key` over the exact body, nothing else.
    async fn passive(&self, path: &str, key: &str, body: &[u8]) -> Answer {
        let sig = ipg::sign(key, body, "");
        self.send_raw(Method::POST, path, None, Some(&sig), body)
            .await
    }
}

/// `valid_until` as PHP's `date(DATE_ISO8601)` writes it (`+0700`), and without seconds; `type`
/// as `Close` / `PARTIAL`: read, and answered in the dialect's own spelling (before: 422).
async fn php_dates_and_any_case_type(db: TestDb) {
    let va = spawn(db).await;
    let path = "/api/v2/gw/bill";
    let a = va
        .biller_raw(
            Method::POST,
            path,
            &php_create("7100000001", "Close", "100000", "2026-12-21T10:00:00+0700"),
        )
        .await;
    let d = a.ok();
    assert_eq!(d["type"], "close");
    assert_eq!(d["valid_until"], "2026-12-21T10:00:00+07:00");
    assert_eq!(d["due_date"], "2026-12-21T10:00:00+07:00");
    assert_eq!(d["invoice_number"], "INV01/7100000001");
    assert_eq!(d["total_amount"].to_string(), "100000");

    // Without seconds, another offset, any case.
    let a = va
        .biller_raw(
            Method::POST,
            path,
            &php_create("7100000002", "PARTIAL", "100000", "2026-12-21T03:00+0000"),
        )
        .await;
    assert_eq!(a.ok()["type"], "partial");
    assert_eq!(a.ok()["valid_until"], "2026-12-21T10:00:00+07:00");
    let a = va
        .biller_raw(
            Method::POST,
            path,
            &php_create("7100000003", " open", "100000", "2026-12-21T10:00+07:00"),
        )
        .await;
    assert_eq!(a.ok()["type"], "open");
    assert_eq!(a.ok()["valid_until"], "2026-12-21T10:00:00+07:00");

    // Still refused: a past date in the PHP form, a date without an offset, an unknown type.
    let a = va
        .biller_raw(
            Method::POST,
            path,
            &php_create("7100000004", "close", "100000", "2026-11-21T09:59:59+0700"),
        )
        .await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(
        a.data()["valid_until"],
        json!(["The valid_until must be a date in the future."])
    );
    let a = va
        .biller_raw(
            Method::POST,
            path,
            &php_create("7100000004", "Closed", "100000", "2026-12-21T10:00:00"),
        )
        .await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(
        a.data(),
        &json!({
            "type": ["The selected type is invalid (close, open or partial)."],
            "valid_until": ["The valid_until must be an ISO 8601 date with an offset (2022-04-04T11:46:56+07:00)."]
        })
    );
}

/// The list's `date.0`/`date.1` as ISO instants in the PHP form (as Guzzle's `query` encodes
/// them: `%3A`, `%2B`), `type` of the payment list in any case, and a bank's
/// `transaction_date` without seconds.
async fn dates_in_queries_and_channel_times(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("7110000001", "close", 100000)).await;
    va.create(&bill_body("7110000002", "close", 100000)).await;
    let query = "institution_code=E9KP2ZQ6&date.0=2026-11-21T00%3A00%2B0700&date.1=2026-11-21T23%3A59%3A59%2B0700";
    let a = va.biller_get(&format!("/api/v2/gw/bill?{query}")).await;
    assert_eq!(a.ok()["total"], 2);
    let query = "institution_code=E9KP2ZQ6&date.0=2026-11-22T00%3A00%2B0700";
    let a = va.biller_get(&format!("/api/v2/gw/bill?{query}")).await;
    assert_eq!(a.ok()["total"], 0);

    let body = br#"{"va_number":"0099027110000001","ref_id":"PAY-NOSEC-1","amount":"100000","terminal_id":"atm","transaction_date":"2026-11-21 10:00","customer_name":"Budi Santoso"}"#;
    let a = va.bank_raw("/api/v2/ch/payment", body).await;
    assert_eq!(a.ok()["status"], "paid");
    assert_eq!(a.ok()["payment"]["amount"].to_string(), "100000");
    // Its retry with the seconds written is the same request (the same instant).
    let retry = br#"{"va_number":"0099027110000001","ref_id":"PAY-NOSEC-1","amount":"100000","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00","customer_name":"Budi Santoso"}"#;
    let again = va.bank_raw("/api/v2/ch/payment", retry).await;
    assert_eq!(again.ok(), a.ok());

    let a = va
        .biller_get("/api/v2/gw/payment?institution_code=E9KP2ZQ6&type=Payment")
        .await;
    assert_eq!(a.ok()["total"], 1);
    assert_eq!(a.ok()["data"][0]["payment_ref_id"], "PAY-NOSEC-1");
    let a = va
        .biller_get("/api/v2/gw/payment?institution_code=E9KP2ZQ6&type=REVERSAL")
        .await;
    assert_eq!(a.ok()["total"], 0);
}

/// Amounts in exponent form, as PHP (`1.0E+25`) and JavaScript (`1e+21`) print floats and as
/// `json_encode` prints `100000.0`: read when exact, refused when not (never rounded).
async fn exponent_amounts(db: TestDb) {
    let va = spawn(db).await;
    let path = "/api/v2/gw/bill";
    let until = "2026-12-21T10:00:00+0700";
    let mut hashes = Vec::new();
    for (va_number, total) in [
        ("7120000001", "1.0E5"),
        ("7120000002", "1e+5"),
        ("7120000003", "100000.0"),
    ] {
        let a = va
            .biller_raw(
                Method::POST,
                path,
                &php_create(va_number, "partial", total, until),
            )
            .await;
        let d = a.ok();
        hashes.push(d["hash"].as_str().unwrap().to_string());
        assert_eq!(d["total_amount"].to_string(), "100000", "{total}");
        assert_eq!(d["components"][0]["price"], "100000", "{total}");
        assert_eq!(d["components"][0]["total"], "100000", "{total}");
    }
    // More decimals than IDR has, and out of range: refused with the field named.
    for (va_number, total) in [("7120000004", "1.0000000005E5"), ("7120000005", "1.0E+25")] {
        let a = va
            .biller_raw(
                Method::POST,
                path,
                &php_create(va_number, "close", total, until),
            )
            .await;
        a.refused(422, "VALIDATION_ERROR");
        let message = a.data()["total_amount"][0].as_str().unwrap_or_default();
        assert!(
            message.starts_with("The total_amount must be an IDR amount"),
            "{}",
            a.body
        );
    }

    // A bank's payment: a number in exponent form, and a string.
    let body = br#"{"va_number":"0099027120000001","ref_id":"EXP-1","amount":4.0E4,"terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
    let a = va.bank_raw("/api/v2/ch/payment", body).await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "40000");
    assert_eq!(a.ok()["payment"]["amount"].to_string(), "40000");
    let body = br#"{"va_number":"0099027120000001","ref_id":"EXP-2","amount":"1.05E4","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
    let a = va.bank_raw("/api/v2/ch/payment", body).await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "50500");
    let body = br#"{"va_number":"0099027120000001","ref_id":"EXP-3","amount":"1.0000005E3","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
    let a = va.bank_raw("/api/v2/ch/payment", body).await;
    a.refused(422, "VALIDATION_ERROR");
    assert!(a.data().get("amount").is_some(), "{}", a.body);
    // A reversal's amount in exponent form.
    let hash = &hashes[0];
    let body = format!(r#"{{"bill_id":"{hash}","payment_ref":"EXP-2","amount":1.05E4}}"#);
    let a = va.bank_raw("/api/v2/ch/reversal", body.as_bytes()).await;
    assert_eq!(a.ok()["paid_amount"].to_string(), "40000");
    assert_eq!(a.ok()["payment"]["type"], "reversal");
}

/// A bank set to `va.auth=passive` sends `Signature` alone (HMAC-SHA256 of the exact body with
/// its API key), as IPG's channel pages show its requests: inquiry, payment, its retry and a
/// reversal all answer as with a token. Before the setting the same request is refused as
/// today; IPG's deprecated `Authorization` header with any value does not disturb it; its
/// bearer token keeps working.
async fn passive_bank_signs_alone(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("7200000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap().to_string();
    let key = va.bank.api_key.clone();
    let inquiry = br#"{"va_number":"0099027200000001","ref_id":"INQ-P-1","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
    let a = va.passive("/api/v2/ch/inquiry", &key, inquiry).await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(a.body["message"], "Missing bearer access token.");

    va.store()
        .set_channel_setting(va.bank_channel_id, "va.auth", "passive", T0)
        .unwrap();
    let a = va.passive("/api/v2/ch/inquiry", &key, inquiry).await;
    let bills = a.ok().as_array().unwrap();
    assert_eq!(bills.len(), 1);
    assert_eq!(bills[0]["hash"], hash.as_str());
    assert_eq!(a.body["timestamp"], "2026-11-21T10:00:00+07:00");

    // IPG's deprecated `Authorization` header, whatever it holds.
    let sig = ipg::sign(&key, inquiry, "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/ch/inquiry",
            Some("legacy-value"),
            Some(&sig),
            inquiry,
        )
        .await;
    assert_eq!(a.ok()[0]["hash"], hash.as_str());

    let payment = br#"{"va_number":"0099027200000001","ref_id":"PAY-P-1","amount":"100000","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00","customer_name":"Budi Santoso"}"#;
    let paid = va.passive("/api/v2/ch/payment", &key, payment).await;
    let data = paid.ok().clone();
    assert_eq!(data["status"], "paid");
    assert_eq!(data["paid_amount"].to_string(), "100000");
    assert_eq!(data["payment"]["channel"], "Bank Muamalat");
    assert_eq!(data["payment"]["payment_ref_id"], "PAY-P-1");
    // The retry returns the first answer's data.
    let again = va.passive("/api/v2/ch/payment", &key, payment).await;
    assert_eq!(again.ok(), &data);
    // The same payment with its bearer token is the same bank's retry.
    let bearer = va.bank_raw("/api/v2/ch/payment", payment).await;
    assert_eq!(bearer.ok(), &data);

    let reversal = format!(r#"{{"bill_id":"{hash}","payment_ref":"PAY-P-1","amount":100000}}"#);
    let a = va
        .passive("/api/v2/ch/reversal", &key, reversal.as_bytes())
        .await;
    assert_eq!(a.ok()["status"], "reversal");
    assert_eq!(a.ok()["paid_amount"].to_string(), "0");
    assert_eq!(a.ok()["payment"]["type"], "reversal");

    // One payment, one reversal, both the bank's.
    let rows = va
        .biller_get(&format!("/api/v2/gw/bill/{hash}/payment"))
        .await;
    let rows = rows.ok().as_array().unwrap().clone();
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["channel"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("payment", "Bank Muamalat"), ("reversal", "Bank Muamalat")]
    );

    // A bodiless request is signed over its raw query string: authenticated (then refused for
    // its missing body, in IPG's shape), and refused when signed over another string.
    let query = "va_number=0099027200000001&ref_id=INQ-P-2";
    let path = format!("/api/v2/ch/inquiry?{query}");
    let sig = ipg::sign(&key, b"", query);
    let a = va
        .send_raw(Method::POST, &path, None, Some(&sig), b"")
        .await;
    a.refused(422, "VALIDATION_ERROR");
    let sig = ipg::sign(&key, b"", "ref_id=INQ-P-2&va_number=0099027200000001");
    let a = va
        .send_raw(Method::POST, &path, None, Some(&sig), b"")
        .await;
    a.refused(401, "UNAUTHORIZED");

    // Back to `bearer`: the signature alone is refused at once.
    va.store()
        .set_channel_setting(va.bank_channel_id, "va.auth", "bearer", T0)
        .unwrap();
    let a = va.passive("/api/v2/ch/inquiry", &key, inquiry).await;
    a.refused(401, "UNAUTHORIZED");
    assert_eq!(a.body["message"], "Missing bearer access token.");
}

/// What the passive scheme does not let through: a signature no passive key verifies (another
/// body, the biller's key, a bearer bank's key), the biller API, a disabled channel. Each gets
/// the refusal a request without a token gets today.
async fn passive_refusals(db: TestDb) {
    let va = spawn(db).await;
    va.create(&bill_body("7210000001", "close", 100000)).await;
    va.store()
        .set_channel_setting(va.bank_channel_id, "va.auth", "passive", T0)
        .unwrap();
    let other = va.store().create_channel("Bank Lain", "va", T0).unwrap();
    va.store().enroll(other.id, va.org.id, T0).unwrap();
    let inquiry = br#"{"va_number":"0099027210000001","ref_id":"INQ-R-1","terminal_id":"atm","transaction_date":"2026-11-21 10:00:00"}"#;
    let unauthorized = |a: Answer, message: &str| {
        a.refused(401, "UNAUTHORIZED");
        assert_eq!(a.body["message"], message);
        assert_eq!(a.body["data"], Value::Null);
    };

    // Signed over other bytes (the body re-serialized with spaces).
    let spaced = String::from_utf8(inquiry.to_vec())
        .unwrap()
        .replace(',', ", ");
    let sig = ipg::sign(&va.bank.api_key, spaced.as_bytes(), "");
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/ch/inquiry",
            None,
            Some(&sig),
            inquiry,
        )
        .await;
    unauthorized(a, "Missing bearer access token.");
    // Another credential's key: the biller's, a bank on the default (bearer) scheme.
    for key in [va.biller.api_key.clone(), other.api_key.clone().unwrap()] {
        let a = va.passive("/api/v2/ch/inquiry", &key, inquiry).await;
        unauthorized(a, "Missing bearer access token.");
    }
    // An unknown token with a wrong signature keeps its own message.
    let a = va
        .send_raw(
            Method::POST,
            "/api/v2/ch/inquiry",
            Some("nope"),
            Some(&sig),
            inquiry,
        )
        .await;
    unauthorized(a, "The access token is invalid or has expired.");
    // No Signature at all.
    let a = va
        .send_raw(Method::POST, "/api/v2/ch/inquiry", None, None, inquiry)
        .await;
    unauthorized(a, "Missing bearer access token.");
    // The biller API never takes the passive scheme.
    let query = "institution_code=E9KP2ZQ6";
    let sig = ipg::sign(&va.bank.api_key, b"", query);
    let a = va
        .send_raw(
            Method::GET,
            &format!("/api/v2/gw/bill?{query}"),
            None,
            Some(&sig),
            b"",
        )
        .await;
    unauthorized(a, "Missing bearer access token.");
    // A disabled channel: refused at once.
    va.passive("/api/v2/ch/inquiry", &va.bank.api_key, inquiry)
        .await
        .ok();
    va.store().disable_channel(va.bank_channel_id, T0).unwrap();
    let a = va
        .passive("/api/v2/ch/inquiry", &va.bank.api_key, inquiry)
        .await;
    unauthorized(a, "Missing bearer access token.");
}

/// The sandbox's mock as IPG's docs list it, a `GET` signed over its query string: payment,
/// reversal, `type` in any case; bad fields refused; absent without the sandbox.
async fn mock_answers_get(db: TestDb) {
    let va = spawn(db).await;
    let d = va.create(&bill_body("7300000001", "close", 100000)).await;
    let hash = d["hash"].as_str().unwrap().to_string();
    let mock = |q: &str| format!("/api/v2/gw/bill/{hash}/mock?{q}");

    let a = va
        .biller_get(&mock(
            "institution_code=E9KP2ZQ6&type=payment&amount=100000&ref_id=MOCK-1",
        ))
        .await;
    let paid = a.ok();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid_amount"].to_string(), "100000");
    assert_eq!(paid["payment"]["channel"], "sandbox");
    assert_eq!(paid["payment"]["payment_ref_id"], "MOCK-1");
    assert_eq!(paid["payment"]["amount"].to_string(), "100000");

    let a = va
        .biller_get(&mock("type=Reversal&payment_ref=MOCK-1"))
        .await;
    assert_eq!(a.ok()["status"], "reversal");
    assert_eq!(a.ok()["paid_amount"].to_string(), "0");
    let a = va.biller_get(&mock("type=PAYMENT&amount=1.0E5")).await;
    assert_eq!(a.ok()["status"], "paid");

    let a = va
        .biller_get(&mock("institution_code=OTHER123&type=refund&amount=1.005"))
        .await;
    a.refused(422, "VALIDATION_ERROR");
    let mut fields: Vec<&String> = a.data().as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["amount", "institution_code", "type"]);
    let a = va.biller_get(&mock("type=payment")).await;
    a.refused(422, "VALIDATION_ERROR");
    assert_eq!(a.data()["amount"], json!(["The amount field is required."]));
    // Signed over another query string: refused.
    let path = mock("type=payment&amount=100000");
    let sig = ipg::sign(&va.biller.api_key, b"", "amount=100000&type=payment");
    va.send_raw(Method::GET, &path, Some(&va.biller.token), Some(&sig), b"")
        .await
        .refused(401, "UNAUTHORIZED");

    let prod = spawn_with_sandbox(TestDb::sqlite(), false).await;
    let d = prod.create(&bill_body("7300000001", "close", 100000)).await;
    let path = format!(
        "/api/v2/gw/bill/{}/mock?type=payment&amount=100000",
        d["hash"].as_str().unwrap()
    );
    prod.biller_get(&path).await.refused(404, "NOT_FOUND");
}
