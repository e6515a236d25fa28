//! Inquiry, payment and status: each payment rule, paid, expired and unknown VAs, amounts,
//! idempotency by `paymentRequestId`, advices kept as unapplied, and what IPG's API then shows.

use billhub_core::PaymentRule;
use billhub_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

billhub_http::http_backend_tests!(
    inquiry_shows_the_bill_and_its_type,
    refused_inquiries_echo_the_ids,
    an_exact_bill_is_paid_once,
    partial_and_open_bills,
    payment_retries_get_the_first_answer,
    bad_payment_bodies,
    an_advice_that_cannot_be_applied_is_kept,
    status_by_payment_request_id,
);

async fn inquiry_shows_the_bill_and_its_type(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let a = s.inquiry("0000000001").await;
    a.is(200, "2002400", "Successful");
    assert_eq!(
        a.data(),
        &json!({
            "inquiryStatus": "00",
            "inquiryReason": {"english": "Success", "indonesia": "Sukses"},
            "partnerServiceId": "  888801",
            "customerNo": "0000000001",
            "virtualAccountNo": "  8888010000000001",
            "virtualAccountName": "Budi Santoso",
            "inquiryRequestId": "INQ-0000000001",
            "totalAmount": {"value": "100000.00", "currency": "IDR"},
            "subCompany": "00000",
            "billDetails": [{
                "billCode": "01",
                "billNo": "INV-0000000001",
                "billName": "SPP Desember",
                "billShortName": "SPP Desember",
                "billDescription": {"english": "Sekolah", "indonesia": "Sekolah"},
                "billSubCompany": "00000",
                "billAmount": {"value": "100000.00", "currency": "IDR"}
            }],
            "freeTexts": [],
            "virtualAccountTrxType": "C",
            "feeAmount": {"value": "0.00", "currency": "IDR"},
            "additionalInfo": {}
        })
    );
    // No phone number or other contact detail is given away.
    assert!(!a.body.to_string().contains("6281234567890"));
}

async fn refused_inquiries_echo_the_ids(db: TestDb) {
    let s = spawn(db).await;
    let mut past = bill(s.org.id, "0000000003", PaymentRule::Exact, 100_000);
    past.valid_until = Some(T0 - time::Duration::minutes(1));
    let account = billhub_store::AccountInput {
        code: "A-3".into(),
        name: "Siti".into(),
        ..Default::default()
    };
    s.store()
        .create_bill_for_account(&account, &past, T0)
        .unwrap();
    let a = s.inquiry("0000000003").await;
    a.is(
        404,
        "4042419",
        "Invalid Bill/Virtual Account [Expired] [the bill has expired]",
    );
    assert_eq!(a.data()["inquiryStatus"], "01");
    s.pay("0000000003", "PAY-EXP", "100000.00").await.is(
        404,
        "4042519",
        "Invalid Bill/Virtual Account [Expired] [the bill has expired]",
    );
    let a = s.inquiry("0000000009").await;
    a.is(
        404,
        "4042412",
        "Invalid Bill/Virtual Account [Not Found] [bill or account not found]",
    );
    assert_eq!(a.data()["inquiryStatus"], "01");
    assert_eq!(a.data()["partnerServiceId"], "  888801");
    assert_eq!(a.data()["virtualAccountNo"], "  8888010000000009");
    assert_eq!(a.data()["inquiryRequestId"], "INQ-0000000009");
    // An unmapped partnerServiceId finds nothing either.
    let mut body = inquiry_body("0000000001");
    body["partnerServiceId"] = json!("   12345");
    body["virtualAccountNo"] = json!("   123450000000001");
    s.call("/v1.0/transfer-va/inquiry", &body).await.is(
        404,
        "4042412",
        "Invalid Bill/Virtual Account [Not Found] [bill or account not found]",
    );
}

async fn an_exact_bill_is_paid_once(db: TestDb) {
    let s = spawn(db).await;
    let bill = s.create("0000000001", PaymentRule::Exact, 100_000);
    let a = s.pay("0000000001", "PAY-1", "50000.00").await;
    a.is(
        404,
        "4042513",
        "Invalid Amount [the amount must equal the outstanding 10000000]",
    );
    assert_eq!(a.data()["paymentFlagStatus"], "01");
    assert_eq!(a.data()["paymentRequestId"], "PAY-1");
    let a = s.pay("0000000001", "PAY-2", "100000.00").await;
    a.is(200, "2002500", "Successful");
    let d = a.data();
    assert_eq!(d["paymentFlagStatus"], "00");
    assert_eq!(
        d["paidAmount"],
        json!({"value": "100000.00", "currency": "IDR"})
    );
    assert_eq!(
        d["totalAmount"],
        json!({"value": "100000.00", "currency": "IDR"})
    );
    assert_eq!(d["virtualAccountNo"], "  8888010000000001");
    assert_eq!(d["referenceNo"], "REF-PAY-2");
    assert_eq!(d["trxDateTime"], "2026-12-05T09:59:00+07:00");
    assert_eq!(d["additionalInfo"]["billStatus"], "paid");
    let uid = d["additionalInfo"]["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = s.store().bill(bill.id).unwrap();
    assert_eq!((stored.paid, stored.status.as_str()), (10_000_000, "paid"));
    let p = s
        .store()
        .payment_by_channel_ref(&format!("snap:{}", s.channel_id), "PAY-2")
        .unwrap()
        .unwrap();
    assert_eq!(
        (p.uid.as_str(), p.amount, p.method.as_str()),
        (uid.as_str(), 10_000_000, "6011")
    );
    assert_eq!(p.paid_at, time::macros::datetime!(2026-12-05 02:59 UTC));
    // Once.
    let a = s.pay("0000000001", "PAY-3", "100000.00").await;
    a.is(404, "4042514", "Paid Bill [the bill is already paid]");
    assert_eq!(a.data()["paymentFlagStatus"], "01");
    s.inquiry("0000000001")
        .await
        .is(404, "4042414", "Paid Bill [the bill is already paid]");
}

async fn partial_and_open_bills(db: TestDb) {
    let s = spawn(db).await;
    s.create(
        "0000000001",
        PaymentRule::Partial {
            minimum: Some(1_000_000),
        },
        100_000,
    );
    s.create("0000000002", PaymentRule::Open, 50_000);
    let a = s.inquiry("0000000001").await;
    assert_eq!(a.data()["virtualAccountTrxType"], "I");
    s.pay("0000000001", "P-1", "5000.00").await.is(
        404,
        "4042513",
        "Invalid Amount [the amount is below the minimum of 1000000]",
    );
    s.pay("0000000001", "P-2", "40000.00")
        .await
        .is(200, "2002500", "Successful");
    let a = s.inquiry("0000000001").await;
    assert_eq!(a.data()["totalAmount"]["value"], "60000.00");
    s.pay("0000000001", "P-3", "60000.01").await.is(
        404,
        "4042513",
        "Invalid Amount [the amount is above the outstanding 6000000]",
    );
    let a = s.pay("0000000001", "P-4", "60000.00").await;
    assert_eq!(a.data()["additionalInfo"]["billStatus"], "paid");
    let a = s.inquiry("0000000002").await;
    assert_eq!(a.data()["virtualAccountTrxType"], "O");
    s.pay("0000000002", "O-1", "70000.00")
        .await
        .is(200, "2002500", "Successful");
}

async fn payment_retries_get_the_first_answer(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let first = s.pay("0000000001", "PAY-1", "100000.00").await;
    first.is(200, "2002500", "Successful");
    // The same request again, under a new X-EXTERNAL-ID: the first answer.
    let again = s.pay("0000000001", "PAY-1", "100000.00").await;
    again.is(200, "2002500", "Successful");
    assert_eq!(again.data(), first.data());
    // Other content under the used paymentRequestId: refused with a code no bank books as paid.
    let mut other = payment_body("0000000001", "PAY-1", "100000.00");
    other["referenceNo"] = json!("REF-OTHER");
    let a = s.call("/v1.0/transfer-va/payment", &other).await;
    a.is(
        400,
        "4002500",
        "Bad Request [paymentRequestId was already used with other content; this payment is not made]",
    );
    assert_eq!(a.data()["paymentFlagStatus"], "01");
    let payments = s
        .store()
        .payments_of_bill(s.store().bills_by_va_number("0099020000000001").unwrap()[0].id)
        .unwrap();
    assert_eq!(payments.len(), 1);
}

async fn bad_payment_bodies(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let cases = [
        (
            json!({"value": "100000", "currency": "IDR"}),
            "Invalid Field Format [paidAmount.value]",
        ),
        (
            json!({"value": 100000.0, "currency": "IDR"}),
            "Invalid Field Format [paidAmount.value]",
        ),
        (
            json!({"value": "1e5", "currency": "IDR"}),
            "Invalid Field Format [paidAmount.value]",
        ),
        (
            json!({"value": "100000.00", "currency": "RP"}),
            "Invalid Field Format [paidAmount.currency]",
        ),
        (
            json!({"value": "100000.00"}),
            "Invalid Mandatory Field [paidAmount.currency]",
        ),
        (json!("100000.00"), "Invalid Field Format [paidAmount]"),
    ];
    for (amount, message) in cases {
        let mut body = payment_body("0000000001", "PAY-X", "1.00");
        body["paidAmount"] = amount.clone();
        let code = if message.starts_with("Invalid Mandatory") {
            "4002502"
        } else {
            "4002501"
        };
        s.call("/v1.0/transfer-va/payment", &body)
            .await
            .is(400, code, message);
    }
    let mut body = payment_body("0000000001", "PAY-X", "100000.00");
    body.as_object_mut().unwrap().remove("paymentRequestId");
    s.call("/v1.0/transfer-va/payment", &body).await.is(
        400,
        "4002502",
        "Invalid Mandatory Field [paymentRequestId]",
    );
    // A currency the bill is not in.
    s.pay("0000000001", "PAY-Y", "100000.00")
        .await
        .is(200, "2002500", "Successful");
}

async fn an_advice_that_cannot_be_applied_is_kept(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    s.pay("0000000001", "PAY-1", "100000.00")
        .await
        .is(200, "2002500", "Successful");
    // The bank already booked this one: kept as unapplied, acknowledged.
    let mut advice = payment_body("0000000001", "ADV-1", "100000.00");
    advice["flagAdvise"] = json!("Y");
    let a = s.call("/v1.0/transfer-va/payment", &advice).await;
    a.is(200, "2002500", "Successful");
    assert_eq!(a.data()["additionalInfo"]["applied"], false);
    // Also for a VA with no bill under a mapped prefix.
    let mut unknown = payment_body("0000000042", "ADV-2", "25000.00");
    unknown["flagAdvise"] = json!("Y");
    s.call("/v1.0/transfer-va/payment", &unknown)
        .await
        .is(200, "2002500", "Successful");
    let open = s.store().unapplied_payments(Some(s.org.id)).unwrap();
    let amounts: Vec<(String, i64)> = open
        .iter()
        .map(|u| (u.channel_ref.clone(), u.amount))
        .collect();
    assert_eq!(
        amounts,
        [
            ("ADV-1".to_string(), 10_000_000),
            ("ADV-2".to_string(), 2_500_000)
        ]
    );
    // Without the advice flag, an unknown VA is refused and nothing is kept.
    s.pay("0000000043", "PAY-9", "1.00").await.is(
        404,
        "4042512",
        "Invalid Bill/Virtual Account [Not Found] [bill or account not found]",
    );
    assert_eq!(
        s.store().unapplied_payments(Some(s.org.id)).unwrap().len(),
        2
    );
}

async fn status_by_payment_request_id(db: TestDb) {
    let s = spawn(db).await;
    s.create("0000000001", PaymentRule::Exact, 100_000);
    let paid = s.pay("0000000001", "PAY-1", "100000.00").await;
    let body = json!({
        "partnerServiceId": PSID,
        "customerNo": "0000000001",
        "virtualAccountNo": format!("{PSID}0000000001"),
        "inquiryRequestId": "INQ-0000000001",
        "paymentRequestId": "PAY-1",
        "additionalInfo": {}
    });
    let a = s.call("/v1.0/transfer-va/status", &body).await;
    a.is(200, "2002600", "Successful");
    assert_eq!(a.data()["paymentFlagStatus"], "00");
    assert_eq!(a.data()["paidAmount"]["value"], "100000.00");
    assert_eq!(a.data()["inquiryRequestId"], "INQ-0000000001");
    assert_eq!(
        a.data()["additionalInfo"]["paymentId"],
        paid.data()["additionalInfo"]["paymentId"]
    );
    let mut unknown = body.clone();
    unknown["paymentRequestId"] = json!("NOPE");
    s.call("/v1.0/transfer-va/status", &unknown)
        .await
        .is(404, "4042601", "Transaction Not Found");
    // Another VA than the payment's: not found.
    let mut elsewhere = body;
    elsewhere["customerNo"] = json!("0000000002");
    elsewhere["virtualAccountNo"] = json!(format!("{PSID}0000000002"));
    s.call("/v1.0/transfer-va/status", &elsewhere).await.is(
        404,
        "4042601",
        "Transaction Not Found",
    );
}
