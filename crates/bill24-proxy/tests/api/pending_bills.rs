//! `/pending_bills`: the seed's example and payments, reversals and the window in the statement.

use crate::prelude::*;

/// The seed's "Example Pending Bills", field for field: an older bill makes the opening balance
/// 20,000 KHR and six bills of 5,000 follow on the listed dates.
async fn pending_bills_seed_example(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("CU003035", BillSpec::khr(20000, date!(2024 - 05 - 01)));
    let mut bills = Vec::new();
    for d in [
        date!(2025 - 05 - 20),
        date!(2025 - 06 - 01),
        date!(2025 - 06 - 15),
        date!(2025 - 07 - 01),
        date!(2025 - 08 - 01),
        date!(2025 - 09 - 01),
    ] {
        bills.push(env.bill("CU003035", BillSpec::khr(5000, d)));
    }
    let (status, body) = env
        .post("/pending_bills", &json!({"consumer_code": "CU003035"}))
        .await;
    assert_eq!(status, 200);
    let url = |i: usize| format!("{PUBLIC}/b/{}", bills[i].public_no);
    // The seed's example, with billhub's links (the seed's are placeholders) and Khmer message.
    assert_eq!(
        body,
        json!({
            "code": 0,
            "message": "Success",
            "message_kh": "ជោគជ័យ",
            "data": {
                "opening_balance": 20000,
                "pending_bills": [
                    { "date": "01/09/2025", "amount": 5000, "balance": 50000, "digital_bill_url": url(5) },
                    { "date": "01/08/2025", "amount": 5000, "balance": 45000, "digital_bill_url": url(4) },
                    { "date": "01/07/2025", "amount": 5000, "balance": 40000, "digital_bill_url": url(3) },
                    { "date": "15/06/2025", "amount": 5000, "balance": 35000, "digital_bill_url": url(2) },
                    { "date": "01/06/2025", "amount": 5000, "balance": 30000, "digital_bill_url": url(1) },
                    { "date": "20/05/2025", "amount": 5000, "balance": 25000, "digital_bill_url": url(0) }
                ]
            }
        })
    );
    for line in body["data"]["pending_bills"].as_array().unwrap() {
        assert!(
            is_link(line["digital_bill_url"].as_str().unwrap(), "b"),
            "{line}"
        );
    }
    // The same statement for one of the account's bill numbers.
    let (_, again) = env
        .post(
            "/pending_bills",
            &json!({"consumer_code": bills[2].public_no}),
        )
        .await;
    assert_eq!(again, body);
}

/// Payments are negative, reversals positive, void bills not listed; the window and the cap come
/// from the organization's settings.
async fn pending_bills_payments_negative(db: TestDb) {
    let env = Env::new(&db, NOW, SettlementMode::Open).await;
    env.bill("STMT", BillSpec::khr(5000, date!(2025 - 07 - 01)));
    env.bill("STMT", BillSpec::khr(5000, date!(2025 - 08 - 01)));
    let void = env.bill("STMT", BillSpec::khr(1000, date!(2025 - 08 - 20)));
    env.store().void_bill(void.id, "cancelled", NOW).unwrap();
    let mut pay = current("T-STMT", "KHR", json!(7000), "STMT", "");
    pay["tran_date"] = json!("2025-08-15T10:00:00");
    let (_, reply) = env.post("/webhook", &pay).await;
    assert_eq!(reply, success());
    let payment = env
        .store()
        .payment_by_channel_ref("bill24", "T-STMT")
        .unwrap()
        .unwrap();
    assert_eq!((payment.amount, payment.credit), (700000, 200000));
    let receipt = format!("{PUBLIC}/r/{}", payment.uid);

    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    let lines = body["data"]["pending_bills"].as_array().unwrap().clone();
    assert_eq!(body["data"]["opening_balance"], json!(0));
    assert_eq!(lines.len(), 3, "{body}");
    assert_eq!(
        lines[0],
        json!({"date": "15/08/2025", "amount": -7000, "balance": 3000, "digital_bill_url": receipt})
    );
    assert!(is_link(lines[0]["digital_bill_url"].as_str().unwrap(), "r"));
    assert_eq!(
        (
            lines[1]["date"].clone(),
            lines[1]["amount"].clone(),
            lines[1]["balance"].clone()
        ),
        (json!("01/08/2025"), json!(5000), json!(10000))
    );
    assert_eq!(lines[2]["balance"], json!(5000));

    // A reversal comes back as a positive entry.
    env.store()
        .reverse_payment(
            &ReversalRequest {
                organization_id: env.org.id,
                payment_id: payment.id,
                channel: "cli".into(),
                channel_ref: "REV-1".into(),
                request_hash: "rev-1".into(),
                reason: "bank reversal".into(),
                requester: billhub_core::reversal::Requester::Channel,
                claimed: billhub_core::reversal::Claimed::Nothing,
                window: None,
            },
            NOW,
        )
        .unwrap();
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    let lines = body["data"]["pending_bills"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        json!({"date": "01/09/2025", "amount": 7000, "balance": 10000, "digital_bill_url": receipt})
    );

    // At most two entries: the older ones go into the opening balance.
    env.set("bill24.statement_max_entries", "2");
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    assert_eq!(body["data"]["opening_balance"], json!(10000));
    assert_eq!(body["data"]["pending_bills"].as_array().unwrap().len(), 2);
    // One month back from 01/09/2025: entries from 01/08/2025.
    env.set("bill24.statement_max_entries", "24");
    env.set("bill24.statement_months", "1");
    let (_, body) = env
        .post("/pending_bills", &json!({"consumer_code": "STMT"}))
        .await;
    assert_eq!(body["data"]["opening_balance"], json!(5000));
    assert_eq!(body["data"]["pending_bills"].as_array().unwrap().len(), 3);
}

billhub_http::http_backend_tests!(pending_bills_seed_example, pending_bills_payments_negative,);
