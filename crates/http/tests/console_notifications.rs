//! The console's notifications page over real HTTP, on SQLite and PostgreSQL: the
//! organization's deliveries newest first with attempts, last answer and last error; an
//! operator's retry puts a failed delivery back to pending, due now, its attempts kept, writes
//! the action log row in the same transaction, and the worker then delivers it; viewers, a
//! missing CSRF token and another organization's delivery id are refused with nothing changed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use billhub_core::locale::console_money;
use billhub_core::{Currency, Money, PaymentRule};
use billhub_http::console::auth::COOKIE;
use billhub_http::console::testing::{TestConsole, csrf_of};
use billhub_http::gateway::{Notifier, OutboundRequest, RenderError, RetrySchedule};
use billhub_http::worker::Worker;
use billhub_http::{Clock, Config};
use billhub_store::testing::TestDb;
use billhub_store::users::{self, Role};
use billhub_store::{
    AccountInput, Delivery, DeliveryOutcome, DeliveryRecord, NewBill, NewOrganization, OnRejection,
    PaymentRequest, PaymentTarget, Store,
};
use reqwest::StatusCode;
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-11-21 08:00:00 UTC);
const PASSWORD: &str = "correct horse battery staple";

/// Sends the deliveries tagged `va` to their URL.
struct TestNotifier;

impl Notifier for TestNotifier {
    fn dialect(&self) -> &'static str {
        "va"
    }

    fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            delays: vec![time::Duration::minutes(1)],
        }
    }

    fn render(
        &self,
        _store: &Store,
        _config: &Config,
        delivery: &Delivery,
    ) -> Result<OutboundRequest, RenderError> {
        Ok(OutboundRequest {
            url: delivery.target_url.clone(),
            content_type: "application/json".into(),
            headers: vec![],
            body: delivery.event.payload.clone().into_bytes(),
        })
    }
}

/// A receiver on 127.0.0.1:0 that answers 200 and counts what it got.
struct Receiver {
    url: String,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    fn spawn() -> Receiver {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let counted = counted.clone();
            App::new().default_service(web::to(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { HttpResponse::Ok().body("ok") }
            }))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .disable_signals()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            hits,
            handle,
        }
    }
}

fn new_org(code: &str) -> NewOrganization {
    NewOrganization {
        code: Some(code.to_string()),
        name: format!("Org {code}"),
        utc_offset: time::UtcOffset::UTC,
        locale: "en".into(),
        settlement: None,
        va_prefixes: vec![],
    }
}

/// An organization whose `va.webhook_url` is `hook`, with one paid bill: one `va` delivery,
/// which then fails for good (HTTP 500). Returns the organization id and the delivery.
fn org_with_failed_delivery(store: &Store, code: &str, hook: &str) -> (i64, DeliveryRecord) {
    let org = store.create_organization(&new_org(code), T0).unwrap();
    store
        .set_setting(org.id, "va.webhook_url", hook, T0)
        .unwrap();
    let (_, bill) = store
        .create_bill_for_account(
            &AccountInput {
                code: "ACC1".into(),
                name: "Payer".into(),
                ..AccountInput::default()
            },
            &NewBill {
                organization_id: org.id,
                account_id: 0,
                collection_id: None,
                invoice_number: None,
                ref1: String::new(),
                ref2: String::new(),
                name: "Bill".into(),
                description: String::new(),
                currency: Currency::USD,
                billed: 10_000,
                items: vec![],
                bill_date: T0.date(),
                due_date: None,
                valid_until: None,
                rule: PaymentRule::Exact,
                source: "cli".into(),
                extra: "{}".into(),
                va_numbers: vec![],
            },
            T0,
        )
        .unwrap();
    let reference = format!("{code}-ref");
    store
        .post_payment(
            &PaymentRequest {
                organization_id: org.id,
                channel: "sandbox".into(),
                channel_ref: reference.clone(),
                request_hash: billhub_store::fingerprint(&[&reference]),
                target: PaymentTarget::Bill { bill_id: bill.id },
                amount: Money::from_minor(10_000, Currency::USD),
                fee: 0,
                method: "test".into(),
                payer_name: String::new(),
                details: "{}".into(),
                paid_at: T0,
                on_rejection: OnRejection::Refuse,
            },
            T0,
        )
        .unwrap();
    let claimed = store
        .claim_deliveries("va", T0, time::Duration::seconds(60), 100)
        .unwrap();
    let mine: Vec<&Delivery> = claimed
        .iter()
        .filter(|d| d.event.organization_id == org.id)
        .collect();
    assert_eq!(mine.len(), 1);
    assert!(
        store
            .finish_delivery(
                mine[0],
                T0,
                &DeliveryOutcome::Failed {
                    error: "HTTP 500".into(),
                    status: Some(500),
                },
            )
            .unwrap()
    );
    (org.id, va_delivery(store, org.id))
}

fn va_delivery(store: &Store, org_id: i64) -> DeliveryRecord {
    let all: Vec<DeliveryRecord> = store
        .deliveries_for_organization(org_id)
        .unwrap()
        .into_iter()
        .filter(|d| d.dialect == "va")
        .collect();
    assert_eq!(all.len(), 1);
    all[0].clone()
}

fn user(store: &Store, org_id: i64, email: &str, role: Role) -> i64 {
    let hash = users::hash_password(PASSWORD).unwrap();
    store
        .create_console_user(org_id, email, role, &hash, T0)
        .unwrap()
        .id
}

async fn sign_in(app: &TestConsole, org: &str, email: &str) -> String {
    app.sign_in(org, email, PASSWORD).await
}

async fn get(app: &TestConsole, cookie: &str, path: &str) -> (StatusCode, String) {
    app.get_page(cookie, path).await
}

async fn retry(
    app: &TestConsole,
    cookie: &str,
    id: i64,
    csrf: bool,
) -> (StatusCode, String, String) {
    let (_, page) = get(app, cookie, "/console/notifications").await;
    let mut form = vec![];
    if csrf {
        form.push(("csrf", csrf_of(&page)));
    }
    let r = app
        .client
        .post(app.url(&format!("/console/notifications/{id}/retry")))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

async fn retry_puts_a_failed_delivery_back_and_the_worker_delivers_it(db: TestDb) {
    let receiver = Receiver::spawn();
    let (org_id, failed) = org_with_failed_delivery(&db.store, "CONSOLE1", &receiver.url);
    let (other_id, other) = org_with_failed_delivery(&db.store, "OTHER001", &receiver.url);
    assert_eq!((failed.status.as_str(), failed.attempts), ("failed", 1));
    let ops_id = user(&db.store, org_id, "ops@example.com", Role::Operator);
    user(&db.store, org_id, "viewer@example.com", Role::Viewer);
    let later = T0 + time::Duration::hours(2);
    let app = TestConsole::spawn(&db, Clock::fixed(later)).await;

    // The page: this organization's delivery with its attempts, answer and error.
    let ops = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    let (status, page) = get(&app, &ops, "/console/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<table id=\"notifications\">"));
    let row = format!("<tr id=\"delivery-{}\">", failed.id);
    assert!(page.contains(&row), "{page}");
    assert!(!page.contains(&format!("<tr id=\"delivery-{}\">", other.id)));
    assert!(page.contains(
        "<td class=\"status\">failed</td><td class=\"n attempts\">1</td><td class=\"n last-status\">500</td><td class=\"last-error money-id\">HTTP 500</td>"
    ));
    assert!(page.contains(&format!(
        "<form method=\"post\" action=\"/console/notifications/{}/retry\">",
        failed.id
    )));
    assert!(page.contains("<button type=\"submit\" class=\"retry\">Retry</button>"));

    // A viewer sees no form and is refused.
    let viewer = sign_in(&app, "CONSOLE1", "viewer@example.com").await;
    let (_, page) = get(&app, &viewer, "/console/notifications").await;
    assert!(page.contains(&row));
    assert!(!page.contains("class=\"retry\""));
    let (status, _, _) = retry(&app, &viewer, failed.id, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No CSRF token.
    let (status, _, _) = retry(&app, &ops, failed.id, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Another organization's delivery, and an unknown one: 404.
    for id in [other.id, 999_999] {
        let (status, _, page) = retry(&app, &ops, id, true).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains(&format!(
            "<p role=\"alert\" class=\"error\">{}</p>",
            console_money::EN.not_found
        )));
    }
    assert_eq!(va_delivery(&db.store, org_id), failed);
    assert_eq!(va_delivery(&db.store, other_id), other);
    assert!(
        db.store
            .console_actions(org_id, 0, 10)
            .unwrap()
            .0
            .is_empty()
    );
    assert!(
        db.store
            .console_actions(other_id, 0, 10)
            .unwrap()
            .0
            .is_empty()
    );

    // The retry: pending, due now, attempts and last error kept; logged.
    let (status, location, _) = retry(&app, &ops, failed.id, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/console/notifications?done=retried");
    let back = va_delivery(&db.store, org_id);
    assert_eq!(back.status, "pending");
    assert_eq!(back.attempts, 1);
    assert_eq!(back.next_attempt_at, later);
    assert_eq!(back.last_error, "HTTP 500");
    assert_eq!(back.last_status, Some(500));
    let (log, more) = db.store.console_actions(org_id, 0, 10).unwrap();
    assert!(!more);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].user_id, ops_id);
    assert_eq!(log[0].email, "ops@example.com");
    assert_eq!(log[0].action, "notification.retry");
    assert_eq!(log[0].object, format!("delivery #{}", failed.id));
    assert_eq!(
        log[0].detail,
        format!(
            "back to pending after 1 attempt(s) to {} (va); last error: HTTP 500",
            receiver.url
        )
    );
    assert_eq!(log[0].created_at, later);
    let (_, page) = get(&app, &ops, "/console/notifications?done=retried").await;
    assert!(page.contains(&format!(
        "<p role=\"status\" class=\"money-done\">{}</p>",
        console_money::EN.done_retried
    )));

    // A delivery that is not failed: nothing to retry, nothing logged.
    let (status, _, page) = retry(&app, &ops, failed.id, true).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains(console_money::EN.err_not_failed));
    assert_eq!(db.store.console_actions(org_id, 0, 10).unwrap().0.len(), 1);

    // The worker delivers it now; the other organization's failed delivery stays failed.
    let worker = Worker::new(app.state.clone(), Arc::new(TestNotifier));
    let report = worker.run_once().await;
    assert_eq!((report.claimed, report.delivered), (1, 1));
    assert_eq!(receiver.hits.load(Ordering::SeqCst), 1);
    let done = va_delivery(&db.store, org_id);
    assert_eq!(
        (done.status.as_str(), done.attempts, done.last_status),
        ("delivered", 2, Some(200))
    );
    assert_eq!(va_delivery(&db.store, other_id).status, "failed");

    // The action log page shows the retry.
    let (_, page) = get(&app, &ops, "/console/actions").await;
    assert!(page.contains(&format!(
        "<td>{}</td><td>delivery #{}</td>",
        console_money::EN.act_notification_retry,
        failed.id
    )));
    receiver.handle.stop(false).await;
}

async fn notifications_page_is_paged_newest_first(db: TestDb) {
    let (org_id, first) = org_with_failed_delivery(&db.store, "CONSOLE1", "http://127.0.0.1:9/x");
    user(&db.store, org_id, "ops@example.com", Role::Operator);
    let (page1, more) = db.store.deliveries_page(org_id, 0, 50).unwrap();
    assert!(!more);
    assert_eq!(page1.len(), 1);
    assert_eq!(page1[0].record, first);
    assert_eq!(page1[0].kind, "payment.received");
    let (none, more) = db.store.deliveries_page(org_id, 50, 50).unwrap();
    assert!(none.is_empty() && !more);

    let app = TestConsole::spawn(&db, Clock::fixed(T0)).await;
    let ops = sign_in(&app, "CONSOLE1", "ops@example.com").await;
    for (lang, l) in [
        ("km", &console_money::KM),
        ("ms", &console_money::MS),
        ("id", &console_money::ID),
    ] {
        let (status, page) = get(&app, &ops, &format!("/console/notifications?lang={lang}")).await;
        assert_eq!(status, StatusCode::OK);
        for label in [
            l.notifications_intro,
            l.attempts,
            l.last_status,
            l.last_error,
            l.status_failed,
        ] {
            assert!(page.contains(label), "{lang}: `{label}` missing");
        }
        assert!(page.contains(&format!(
            "<button type=\"submit\" class=\"retry\">{}</button>",
            l.retry
        )));
    }
    // A page past the end is empty, not an error.
    let (status, page) = get(&app, &ops, "/console/notifications?page=7").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(console_money::EN.no_deliveries));
    assert!(page.contains("href=\"/console/notifications?page=6\""));
    // A page that is not a number is the first.
    let (status, page) = get(&app, &ops, "/console/notifications?page=x").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("<tr id=\"delivery-{}\">", first.id)));
}

billhub_http::http_backend_tests!(
    retry_puts_a_failed_delivery_back_and_the_worker_delivers_it,
    notifications_page_is_paged_newest_first,
);
