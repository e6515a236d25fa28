//! Reverts and transaction info.

use billhub_core::BillStatus;
use billhub_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

/// Revert within the window, once; out of the window refused.
pub async fn revert_in_and_out_of_window(db: TestDb) {
    let env = Env::new(&db).await;
    env.set("postpaid.revert_window_hours", "24");
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let paid = env
        .pay(3, "10", &pay_body("1234567890", &code, 12500))
        .await;
    assert_eq!(paid["rc"], 0);

    let wrong_amount = env
        .revert(3, "11", &revert_body(100, 10, "1234567890"))
        .await;
    assert_refused(&wrong_amount, "927");
    let wrong_account = env.revert(3, "12", &revert_body(12500, 10, "999")).await;
    assert_refused(&wrong_account, "11");
    let unknown = env
        .revert(3, "13", &revert_body(12500, 77, "1234567890"))
        .await;
    assert!(assert_refused(&unknown, "11").contains("not found"));

    let body = revert_body(12500, 10, "1234567890");
    let reverted = env.revert(3, "14", &body).await;
    assert_eq!(reverted["rc"], 0, "{reverted}");
    let item = &reverted["items"][0];
    assert_eq!(item["finalstatus"], 20);
    assert_eq!(item["resultcode"], "20");
    assert_eq!(item["destinationamount"], 12500);
    assert_eq!(
        item["supplierreference"],
        paid["items"][0]["supplierreference"]
    );
    for b in env
        .store()
        .bills_by_invoice_number(env.org, "INV-10004567")
        .unwrap()
    {
        assert_eq!(b.status, BillStatus::Active);
    }
    // The same revert again: its first answer. Another revert of the same payment: refused.
    assert_eq!(env.revert(3, "14", &body).await, reverted);
    let twice = env.revert(3, "15", &body).await;
    assert!(assert_refused(&twice, "11").contains("already been reverted"));
    let mut other = body.clone();
    other["account"] = json!("1234567890 ");
    other["localDateTime"] = json!("2025-07-03T12:00:01Z");
    assert_refused(&env.revert(3, "14", &other).await, "12");

    // Out of the window.
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    assert_eq!(
        env.pay(3, "20", &pay_body("1234567890", &code, 12500))
            .await["rc"],
        0
    );
    env.app.clock().advance(time::Duration::hours(25));
    let late = env
        .revert(3, "21", &revert_body(12500, 20, "1234567890"))
        .await;
    assert!(assert_refused(&late, "11").contains("window"));
}

/// Transaction info by the terminal's reference, in both date spellings.
pub async fn transaction_info(db: TestDb) {
    let env = Env::new(&db).await;
    seed_bills(&env);
    let code = Env::code_of(&env.lookup(3, "1234567890").await);
    let paid = env
        .pay(3, "30", &pay_body("1234567890", &code, 12500))
        .await;
    for date in ["20250703", "03072025"] {
        let info = env
            .get(&format!("/util/transaction/info/3/30/{date}"))
            .await;
        assert_eq!(info.status, 200);
        assert_eq!(info.body, paid, "{date}");
    }
    let unknown = env.get("/util/transaction/info/3/31/20250703").await;
    assert_refused(&unknown.body, "900");
    let bad = env.get("/util/transaction/info/3/30/2025-07-03").await;
    assert!(assert_refused(&bad.body, "900").contains("creationDate"));

    env.revert(3, "32", &revert_body(12500, 30, "1234567890"))
        .await;
    // rc-keyed clients must not read a reverted payment as completed.
    let info = env.get("/util/transaction/info/3/30/20250703").await;
    assert_eq!(info.body["rc"], -1, "{}", info.body);
    assert_eq!(info.body["items"][0]["resultcode"], "20");
    assert_eq!(
        info.body["items"][0]["resultmessage"],
        "Transaction reverted"
    );
}
