//! The shell example of docs/dialects/va.md, run against a live gateway.

use crate::prelude::*;

billhub_http::http_backend_tests!(docs_example_works,);

/// Runs the shell example of docs/dialects/va.md (curl + openssl) against a live gateway, with
/// a `var/demo.env` like `billhub up --demo` writes.
async fn docs_example_works(db: TestDb) {
    let va = spawn(db).await;
    let doc = include_str!("../../../../docs/dialects/va.md");
    let start = doc.find("<!-- example:start -->").unwrap();
    let end = doc.find("<!-- example:end -->").unwrap();
    let block = &doc[start..end];
    let script: String = block
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = std::env::temp_dir().join(format!("va-docs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("var")).unwrap();
    let env = format!(
        "export DEMO_ORG_CODE={ORG_CODE}\nexport VA_CLIENT_ID={}\nexport VA_CLIENT_SECRET={}\nexport VA_API_KEY={}\nexport VA_BANK_CLIENT_ID={}\nexport VA_BANK_CLIENT_SECRET={}\nexport VA_BANK_API_KEY={}\n",
        va.biller.client_id,
        va.biller.client_secret,
        va.biller.api_key,
        va.bank.client_id,
        va.bank.client_secret,
        va.bank.api_key
    );
    std::fs::write(dir.join("var/demo.env"), env).unwrap();
    // The script sends the wall clock's `transaction_date`, which must lie within a day of the
    // gateway's `now`: the gateway runs on the wall clock here too.
    va.app.clock().set(time::OffsetDateTime::now_utc());
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .env("BASE", &va.app.base_url)
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 4, "{stdout}");
    for a in &answers {
        assert_eq!(a["rc"], "SUCCESS", "{a}");
    }
    assert_eq!(answers[0]["data"]["invoice_number"], "INV01/TRX000001");
    assert_eq!(answers[0]["data"]["description"], "Pembayaran SPP café");
    assert_eq!(answers[1]["data"]["total"], 1);
    assert_eq!(answers[2]["data"][0]["va_number"], "0099022233445566");
    assert_eq!(answers[3]["data"]["status"], "paid");
}
