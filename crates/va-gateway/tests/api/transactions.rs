//! One request, one transaction: with the authentication cache warm, every route of the dialect
//! (each method and path; payments and reversals also replayed) costs at most one store
//! transaction and none for its authentication, and the webhook renderer one snapshot per
//! delivery. Counted with the store's transaction counter (feature `testing`); the test app runs
//! no worker, so nothing else touches the store meanwhile.

use std::future::Future;

use billhub_http::Notifier;

use crate::prelude::*;

billhub_http::http_backend_tests!(
    every_route_costs_one_transaction,
    a_webhook_renders_in_one_snapshot,
);

/// Awaits `call` and returns how many store transactions it began, with its outcome.
async fn counted<T>(va: &Va, call: impl Future<Output = T>) -> (u64, T) {
    let before = va.store().transactions_started();
    let out = call.await;
    (va.store().transactions_started() - before, out)
}

/// Awaits `call`, asserts it cost `expected` transactions, and returns its answer.
#[track_caller]
fn costs(route: &str, expected: u64, (spent, answer): (u64, Answer)) -> Answer {
    assert_eq!(
        spent, expected,
        "{route} began {spent} transactions: {}",
        answer.body
    );
    answer
}

/// Warms the cache: one request of each client (token, API key, organization).
async fn warm(va: &Va) {
    va.biller_get("/api/v2/gw/bill").await.ok();
    va.bank_post(
        "/api/v2/ch/inquiry",
        &channel_body("0099029999999999", "WARM"),
    )
    .await
    .refused(404, "BILL_NOT_FOUND");
}

async fn every_route_costs_one_transaction(db: TestDb) {
    let va = spawn(db).await;
    warm(&va).await;

    // OAuth: the client check and the token's issue in one write.
    let (spent, token) = counted(&va, va.token_for(&va.biller.clone())).await;
    assert_eq!(spent, 1, "POST /oauth/token");
    assert!(token.len() >= 40);

    // Biller API.
    let body = bill_body("1700000001", "close", 100000);
    let created = costs(
        "POST /api/v2/gw/bill",
        1,
        counted(&va, va.biller_post("/api/v2/gw/bill", &body)).await,
    );
    let hash = created.ok()["hash"].as_str().unwrap().to_string();
    // Authentication from the warm cache costs nothing: a request refused by its parser, before
    // its flow, begins no transaction at all.
    let refused = costs(
        "POST /api/v2/ch/payment (invalid body, refused before the flow)",
        0,
        counted(&va, va.bank_post("/api/v2/ch/payment", &json!({}))).await,
    );
    refused.refused(422, "VALIDATION_ERROR");
    let page = costs(
        "GET /api/v2/gw/bill",
        1,
        counted(&va, va.biller_get("/api/v2/gw/bill")).await,
    );
    assert_eq!(page.ok()["total"], 1);
    let shown = costs(
        "GET /api/v2/gw/bill/{hash}",
        1,
        counted(&va, va.biller_get(&format!("/api/v2/gw/bill/{hash}"))).await,
    );
    assert_eq!(shown.ok()["hash"], hash.as_str());

    // Bank channel API: inquiry, payment and its replay.
    let number = "0099021700000001";
    let found = costs(
        "POST /api/v2/ch/inquiry",
        1,
        counted(
            &va,
            va.bank_post("/api/v2/ch/inquiry", &channel_body(number, "INQ-1")),
        )
        .await,
    );
    assert_eq!(found.ok()[0]["hash"], hash.as_str());
    for attempt in [
        "POST /api/v2/ch/payment",
        "POST /api/v2/ch/payment (replay)",
    ] {
        let paid = costs(
            attempt,
            1,
            counted(&va, va.pay(number, "TX-R-1", "100000")).await,
        );
        assert_eq!(paid.ok()["status"], "paid", "{attempt}");
    }

    let rows = costs(
        "GET /api/v2/gw/bill/{hash}/payment",
        1,
        counted(
            &va,
            va.biller_get(&format!("/api/v2/gw/bill/{hash}/payment")),
        )
        .await,
    );
    assert_eq!(rows.ok().as_array().unwrap().len(), 1);
    let payments = costs(
        "GET /api/v2/gw/payment",
        1,
        counted(&va, va.biller_get("/api/v2/gw/payment")).await,
    );
    assert_eq!(payments.ok()["total"], 1);

    // The bank's reversal and its replay.
    let reversal = json!({"bill_id": hash, "payment_ref": "TX-R-1", "amount": 100000});
    for attempt in [
        "POST /api/v2/ch/reversal",
        "POST /api/v2/ch/reversal (replay)",
    ] {
        let reversed = costs(
            attempt,
            1,
            counted(&va, va.bank_post("/api/v2/ch/reversal", &reversal)).await,
        );
        assert_eq!(reversed.ok()["status"], "reversal", "{attempt}");
    }

    // The sandbox: a payment, its replay, and a reversal.
    let mock = format!("/api/v2/gw/bill/{hash}/mock");
    let pay = json!({"type": "payment", "amount": 100000, "ref_id": "TX-MOCK-1"});
    for attempt in [
        "POST /api/v2/gw/bill/{hash}/mock (payment)",
        "POST /api/v2/gw/bill/{hash}/mock (payment replay)",
    ] {
        let paid = costs(attempt, 1, counted(&va, va.biller_post(&mock, &pay)).await);
        assert_eq!(paid.ok()["payment"]["channel"], "sandbox", "{attempt}");
    }
    let undone = costs(
        "POST /api/v2/gw/bill/{hash}/mock (reversal)",
        1,
        counted(
            &va,
            va.biller_post(&mock, &json!({"type": "reversal", "amount": 100000})),
        )
        .await,
    );
    assert_eq!(undone.ok()["status"], "reversal");

    // Revoke: another bill, never paid.
    let other = va.create(&bill_body("1700000003", "close", 100000)).await;
    let other_hash = other["hash"].as_str().unwrap().to_string();
    let revoked = costs(
        "DELETE /api/v2/gw/bill/{hash}",
        1,
        counted(
            &va,
            va.biller_delete(&format!("/api/v2/gw/bill/{other_hash}")),
        )
        .await,
    );
    assert_eq!(revoked.ok()["status"], "void");
}

async fn a_webhook_renders_in_one_snapshot(db: TestDb) {
    let va = spawn(db).await;
    va.store()
        .set_setting(va.org.id, "va.webhook_url", "http://127.0.0.1:9/hook", T0)
        .unwrap();
    let d = va.create(&bill_body("1700000002", "close", 100000)).await;
    va.pay("0099021700000002", "TX-HOOK-1", "100000").await.ok();
    va.bank_post(
        "/api/v2/ch/reversal",
        &json!({"bill_id": d["hash"], "payment_ref": "TX-HOOK-1", "amount": 100000}),
    )
    .await
    .ok();
    let deliveries = va
        .store()
        .claim_deliveries("va", T0, time::Duration::minutes(1), 10)
        .unwrap();
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        let (spent, rendered) = counted(&va, async {
            va_gateway::notify::VaNotifier.render(va.store(), &va.app.state.config, delivery)
        })
        .await;
        assert_eq!(spent, 1, "render of {}", delivery.event.kind);
        assert!(rendered.unwrap().body.starts_with(b"{\"event\":\"payment."));
    }
}
