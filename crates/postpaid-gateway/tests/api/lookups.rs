//! Get Parameters and Get Invoices.

use billhub_core::BillStatus;
use billhub_store::testing::TestDb;
use serde_json::{Value, json};
use time::macros::date;

use crate::common::*;

/// The seed's Get Parameters and Get Invoices examples, field for field. A third, newer
/// invoice exists and `installments_to_pay: 2` keeps it out of the listing.
pub async fn seed_get_invoices(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.fields", SEED_FIELDS);
    seed_bills(&env);
    env.bill(
        "1234567890",
        7000,
        "INV-10004569",
        date!(2025 - 07 - 01),
        date!(2025 - 07 - 31),
    );

    let params = env
        .get(&format!("/post-paid/bill-payment/parameters/7/{}", env.org))
        .await;
    assert_eq!(params.status, 200);
    assert_eq!(
        params.body,
        json!({
            "rc": 0, "message": "OK",
            "front": [
                {"name": "card_code", "label": "CARD CODE", "type": "INPUT", "minLength": 1, "maxLength": 64, "list": []},
                {"name": "installments_to_pay", "label": "INSTALLMENTS TO PAY", "type": "INPUT", "minLength": 1, "maxLength": 64, "list": []}
            ],
            "query": ["card_code", "installments_to_pay"],
            "pay": ["card_code", "installments_to_pay", "transaction_code"]
        })
    );
    let uid = params.headers.get("UID").unwrap().to_str().unwrap();
    assert!(is_uuid(uid));
    assert_eq!(
        params
            .headers
            .get("X-Request-Id")
            .unwrap()
            .to_str()
            .unwrap(),
        uid
    );
    assert_eq!(params.headers.get("U").unwrap().to_str().unwrap(), env.user);
    // Cache-Hash: the same checksum again gets an empty body.
    let hash = params.headers.get("New-Cache-Hash").unwrap().clone();
    let again = env
        .send(
            env.signed(
                env.app.client.get(
                    env.app
                        .url(&format!("/post-paid/bill-payment/parameters/7/{}", env.org)),
                ),
            )
            .header("Cache-Hash", hash),
        )
        .await;
    assert_eq!((again.status, again.body), (200, Value::Null));

    let a = env
        .post(
            &format!("/post-paid/bill-payment/get-invoices/7/{}", env.org),
            &json!([
                { "key": "card_code", "value": "1234567890" },
                { "key": "installments_to_pay", "value": "2" }
            ]),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers.get("U").unwrap().to_str().unwrap(), env.user);
    let mut body = a.body;
    let code = Env::code_of(&body);
    assert_code_format(&code, "20250703");
    body["additionalData"][0]["value"] = json!("TXN-INV-20250703-A1");
    assert_eq!(
        body,
        json!({
            "rc": 0,
            "message": "Pending invoices retrieved successfully",
            "additionalData": [{ "key": "transaction_code", "value": "TXN-INV-20250703-A1" }],
            "pendingInvoices": 2,
            "amountToSendX100": 12500,
            "destinationAmountX100": 12500,
            "serviceFeeX100": 0,
            "totalAmountX100": 12500,
            "destinationCurrency": "EUR",
            "items": [
                {
                    "amountToSendX100": 6500, "destinationAmountX100": 6500, "serviceFeeX100": 0,
                    "totalAmountX100": 6500, "destinationCurrency": "EUR",
                    "date": "2025-06-01", "expirationDate": "2025-07-01",
                    "invoiceReference": "INV-10004567", "isElegible": true
                },
                {
                    "amountToSendX100": 6000, "destinationAmountX100": 6000, "serviceFeeX100": 0,
                    "totalAmountX100": 6000, "destinationCurrency": "EUR",
                    "date": "2025-06-15", "expirationDate": "2025-07-15",
                    "invoiceReference": "INV-10004568", "isElegible": true
                }
            ],
            "paymentType": "TOTAL",
            "type": "TOTAL"
        })
    );
    // Numbers are integers on the wire, not floats.
    let stored = env.store().postpaid_code(&code).unwrap().unwrap();
    assert_eq!(stored.total, 12500);
    assert_eq!(stored.terminal_id, 7);

    // The seed's payment step: every pay field and the code; TOTAL pays the two listed only.
    let paid = env
        .pay(
            7,
            "1001",
            &json!({
                "amountToSendX100": 12500, "destinationAmountX100": 0,
                "localDateTime": "2025-07-03T11:00:00Z",
                "additionalData": [
                    { "key": "card_code", "value": "1234567890" },
                    { "key": "installments_to_pay", "value": "2" },
                    { "key": "transaction_code", "value": code }
                ]
            }),
        )
        .await;
    assert_eq!(paid["rc"], 0, "{paid}");
    let acc = env
        .store()
        .account_by_code(env.org, "1234567890")
        .unwrap()
        .unwrap();
    let statuses: Vec<BillStatus> = env
        .store()
        .bills_of_account(acc.id)
        .unwrap()
        .iter()
        .map(|b| b.status)
        .collect();
    assert_eq!(
        statuses,
        vec![BillStatus::Paid, BillStatus::Paid, BillStatus::Active]
    );
}

/// Expired invoices are listed as not eligible and count in no total; nothing pending is rc 0.
pub async fn expired_and_nothing_pending(db: TestDb) {
    let env = Env::new(&db).await;
    env.bill_with(
        "1234567890",
        4000,
        "INV-OLD",
        date!(2025 - 05 - 01),
        date!(2025 - 05 - 31),
        Some(time::macros::datetime!(2025-06-30 00:00 UTC)),
    );
    let only_expired = env.lookup(3, "1234567890").await;
    assert_eq!(only_expired["rc"], 0);
    assert_eq!(only_expired["pendingInvoices"], 0);
    assert_eq!(only_expired["totalAmountX100"], 0);
    assert_eq!(only_expired["additionalData"], json!([]));
    assert_eq!(only_expired["items"][0]["isElegible"], false);
    assert_eq!(only_expired["items"][0]["invoiceReference"], "INV-OLD");

    seed_bills(&env);
    let listed = env.lookup(3, "1234567890").await;
    assert_eq!(listed["pendingInvoices"], 2);
    assert_eq!(listed["totalAmountX100"], 12500);
    let flags: Vec<(&str, bool)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["invoiceReference"].as_str().unwrap(),
                i["isElegible"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("INV-OLD", false),
            ("INV-10004567", true),
            ("INV-10004568", true)
        ]
    );
    // TOTAL pays the eligible ones; the expired one stays as it was.
    let code = Env::code_of(&listed);
    assert_eq!(
        env.pay(3, "1", &pay_body("1234567890", &code, 12500)).await["rc"],
        0
    );
    let old = env
        .store()
        .bills_by_invoice_number(env.org, "INV-OLD")
        .unwrap();
    assert_eq!(old[0].paid, 0);
}
