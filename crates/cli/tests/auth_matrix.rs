//! Auth matrix (issue 10, "Suites"): every route of every gateway, served by a real
//! `billhub up` process, called with no credential, a wrong one, an expired one, a revoked one,
//! a credential of another dialect (or of the other side of the VA dialect) and another
//! organization's valid one. Each refusal must be the dialect's documented shape
//! (`docs/dialects/*.md`), no answer may carry data of the organization the caller does not
//! belong to (nor any secret), nothing of that organization may change, and after the whole run
//! the process's log (`BILLHUB_LOG=debug`) must contain none of the secrets, tokens, passwords
//! or stored hashes issued for the run (nor any `Signature`/`SH` sent). Working credentials of
//! every kind are also revoked while the process runs (`billhub credential revoke`, another
//! process) and must be refused within the documented 5 s. The suite ends with `billhub check`
//! exiting 0. The process comes from the suites' harness (`tests/harness/`).
//!
//! The list of routes is checked against the route registrations in the gateways' source
//! (`every_registered_route_is_in_the_matrix`): a route added to a gateway without a row here
//! fails that test.
//!
//! Run: `cargo test -p billhub-cli --test auth_matrix -- --nocapture` (SQLite file and
//! PostgreSQL; there is no long form: the matrix is the same every time, nothing is random).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)] // tests may panic on a broken expectation, and read JSON by index

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use billhub_core::signature::{csq, ipg, sha256_hex};
use billhub_core::{Currency, Money, PaymentRule, SettlementMode};
use billhub_store::testing::TestDb;
use billhub_store::{
    AccountInput, NewBill, NewOrganization, OnRejection, PaymentRequest, PaymentTarget, Principal,
    Store, fingerprint,
};
use reqwest::Method;
use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};

mod harness;

use harness::gateway::{Dialect, Gateways};

// =============================================================================================
// The matrix: every route of every gateway

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Gw {
    Bill24,
    Collections,
    Va,
    Postpaid,
}

impl Gw {
    const ALL: [Gw; 4] = [Gw::Bill24, Gw::Collections, Gw::Va, Gw::Postpaid];
}

/// Who a route lets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// Shared plumbing and the hosted pages: no credential by design (a bill page's address is
    /// its unguessable `public_no`).
    Public,
    /// An organization's credential (Bill24 token, collections bearer, VA biller).
    Biller,
    /// A channel's credential (VA bank, CSQ terminal network).
    Channel,
    /// VA `/oauth/token`: client id and secret in the body.
    OAuth,
    /// CSQ `/ping`: no credential needed; checked when sent.
    Ping,
}

/// Every route the gateways register, as `(gateway, method, path pattern, guard)`.
const ROUTES: &[(Gw, &str, &str, Guard)] = &[
    (Gw::Bill24, "POST", "/proxy", Guard::Biller),
    (Gw::Bill24, "POST", "/pending_bills", Guard::Biller),
    (Gw::Bill24, "POST", "/webhook", Guard::Biller),
    (Gw::Collections, "GET", "/api/collections", Guard::Biller),
    (Gw::Collections, "POST", "/api/collections", Guard::Biller),
    (
        Gw::Collections,
        "GET",
        "/api/collections/{code}",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "PATCH",
        "/api/collections/{code}",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "GET",
        "/api/collections/{code}/bills",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "POST",
        "/api/collections/{code}/bills",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "GET",
        "/api/collections/{code}/bills/{bill_no}",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "PATCH",
        "/api/collections/{code}/bills/{bill_no}",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "GET",
        "/api/collections/{code}/bills/{bill_no}/transactions",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "GET",
        "/api/collections/{code}/bills/{bill_no}/transactions/{ref_id}",
        Guard::Biller,
    ),
    (Gw::Collections, "GET", "/api/products", Guard::Biller),
    (Gw::Collections, "POST", "/api/products", Guard::Biller),
    (Gw::Collections, "GET", "/api/products/{id}", Guard::Biller),
    (
        Gw::Collections,
        "PATCH",
        "/api/products/{id}",
        Guard::Biller,
    ),
    (
        Gw::Collections,
        "DELETE",
        "/api/products/{id}",
        Guard::Biller,
    ),
    (Gw::Collections, "GET", "/api/customers", Guard::Biller),
    (Gw::Collections, "POST", "/api/customers", Guard::Biller),
    (Gw::Collections, "GET", "/api/customers/{id}", Guard::Biller),
    (
        Gw::Collections,
        "PATCH",
        "/api/customers/{id}",
        Guard::Biller,
    ),
    (Gw::Va, "POST", "/oauth/token", Guard::OAuth),
    (Gw::Va, "POST", "/api/v2/gw/bill", Guard::Biller),
    (Gw::Va, "GET", "/api/v2/gw/bill", Guard::Biller),
    (Gw::Va, "GET", "/api/v2/gw/bill/{hash}", Guard::Biller),
    (Gw::Va, "DELETE", "/api/v2/gw/bill/{hash}", Guard::Biller),
    (
        Gw::Va,
        "GET",
        "/api/v2/gw/bill/{hash}/payment",
        Guard::Biller,
    ),
    (Gw::Va, "POST", "/api/v2/gw/bill/{hash}/mock", Guard::Biller),
    (Gw::Va, "GET", "/api/v2/gw/bill/{hash}/mock", Guard::Biller),
    (Gw::Va, "GET", "/api/v2/gw/payment", Guard::Biller),
    (Gw::Va, "POST", "/api/v2/ch/inquiry", Guard::Channel),
    (Gw::Va, "POST", "/api/v2/ch/payment", Guard::Channel),
    (Gw::Va, "POST", "/api/v2/ch/reversal", Guard::Channel),
    (
        Gw::Postpaid,
        "GET",
        "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "POST",
        "/post-paid/bill-payment/get-invoices/{terminalId}/{operatorId}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "POST",
        "/post-paid/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "GET",
        "/bill-payment/parameters/{terminalId}/{operatorId}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "POST",
        "/bill-payment/invoices/{terminalId}/{operatorId}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "POST",
        "/bill-payment/payment/{terminalId}/{operatorId}/{localReference}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "POST",
        "/util/revert/{terminalId}/{operatorId}/{localReference}",
        Guard::Channel,
    ),
    (
        Gw::Postpaid,
        "GET",
        "/util/transaction/info/{terminalId}/{originalLocalReference}/{creationDate}",
        Guard::Channel,
    ),
    (Gw::Postpaid, "GET", "/ping", Guard::Ping),
    (Gw::Postpaid, "GET", "/ping/{echo}", Guard::Ping),
];

/// The routes `billhub-http` adds to every gateway (`crates/http/src/server.rs`).
const SHARED: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/b/{public_no}"),
    ("GET", "/r/{uid}"),
];

/// The whole matrix as `(gateway, method, pattern, guard)`, shared routes included.
fn all_routes() -> Vec<(Gw, &'static str, &'static str, Guard)> {
    let mut all: Vec<_> = ROUTES.to_vec();
    for gw in Gw::ALL {
        for (m, p) in SHARED {
            all.push((gw, m, p, Guard::Public));
        }
    }
    all
}

// =============================================================================================
// Routes as the source registers them

/// The text between the `(` at `open` and its matching `)`.
fn parenthesised(text: &str, open: usize) -> &str {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {open}");
}

/// The first string literal of `arg`, `{name}` of `format!` resolved from `lets`.
fn path_of(arg: &str, lets: &[(String, String)]) -> Option<String> {
    let arg = arg.trim();
    if let Some(start) = arg.find('"') {
        let rest = &arg[start + 1..];
        let lit = &rest[..rest.find('"')?];
        let mut s = lit.to_string();
        if arg.contains("format!") {
            for (name, value) in lets {
                s = s.replace(&format!("{{{name}}}"), value);
            }
            s = s.replace("{{", "{").replace("}}", "}");
        }
        return s.starts_with('/').then_some(s);
    }
    // A bare identifier bound by `let name = "...";`.
    lets.iter().find(|(n, _)| n == arg).map(|(_, v)| v.clone())
}

/// The HTTP method a `.route(...)` argument registers.
fn method_of(arg: &str) -> Option<&'static str> {
    let methods = [
        ("get()", "GET"),
        ("post()", "POST"),
        ("patch()", "PATCH"),
        ("delete()", "DELETE"),
        ("put()", "PUT"),
        ("head()", "HEAD"),
    ];
    methods
        .iter()
        .filter_map(|(needle, m)| arg.find(needle).map(|i| (i, *m)))
        .min()
        .map(|(_, m)| m)
}

/// `(method, path)` of every route registered in one source file: `resource(PATH)` followed by
/// `.route(METHOD().to(..))`, and `.route("PATH", web::METHOD().to(..))`.
fn registered(source: &str) -> BTreeSet<(String, String)> {
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let lets: Vec<(String, String)> = code
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("let ")?;
            let (name, value) = l.split_once('=')?;
            let value = value.trim().strip_suffix(';')?.trim();
            let value = value.strip_prefix('"')?.strip_suffix('"')?;
            Some((name.trim().to_string(), value.to_string()))
        })
        .collect();
    let mut found = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut at = 0;
    loop {
        let next_resource = code[at..].find("resource(").map(|i| (at + i, true));
        let next_route = code[at..].find(".route(").map(|i| (at + i, false));
        let Some((pos, is_resource)) = [next_resource, next_route].into_iter().flatten().min()
        else {
            break;
        };
        if is_resource {
            let open = pos + "resource".len();
            let arg = parenthesised(&code, open);
            if let Some(p) = path_of(arg, &lets) {
                current = Some(p);
            }
            at = open + 1;
        } else {
            let open = pos + ".route".len();
            let arg = parenthesised(&code, open);
            let method = method_of(arg).expect("a .route(...) without a method");
            let path = if arg.trim_start().starts_with('"') {
                path_of(arg, &lets)
            } else {
                current.clone()
            };
            let path = path.unwrap_or_else(|| panic!("a route without a path: {arg}"));
            found.insert((method.to_string(), path));
            at = open + 1;
        }
    }
    found
}

/// The extraction reads the registration styles the gateways use (a control for the test
/// below: a new route in any of these styles is seen).
#[test]
fn registrations_are_read_in_every_style() {
    let src = r#"
        let bill = "/a/{x}/b";
        // .route("/commented", web::get().to(nothing))
        cfg.service(web::resource("/one").route(web::post().to(one)))
            .service(resource(bill).route(get().to(g)).route(patch().to(p)))
            .service(resource(&format!("{bill}/c/{{id}}")).route(delete().to(d)))
            .route("/two/{y}", web::get().to(two));
    "#;
    let got: Vec<(String, String)> = registered(src).into_iter().collect();
    let want: Vec<(String, String)> = [
        ("DELETE", "/a/{x}/b/c/{id}"),
        ("GET", "/a/{x}/b"),
        ("GET", "/two/{y}"),
        ("PATCH", "/a/{x}/b"),
        ("POST", "/one"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_string(), (*p).to_string()))
    .collect();
    assert_eq!(got, want);
}

/// Routes found in the source of every gateway and of the shared plumbing: adding a route to
/// a gateway without a row in [`ROUTES`] fails here, and so does a row for a route that is gone.
#[test]
fn every_registered_route_is_in_the_matrix() {
    let sources: [(Option<Gw>, &str); 6] = [
        (
            Some(Gw::Bill24),
            include_str!("../../bill24-proxy/src/routes.rs"),
        ),
        (
            Some(Gw::Collections),
            include_str!("../../collections-api/src/routes.rs"),
        ),
        (Some(Gw::Va), include_str!("../../va-gateway/src/routes.rs")),
        (
            Some(Gw::Postpaid),
            include_str!("../../postpaid-gateway/src/lib.rs"),
        ),
        (
            Some(Gw::Postpaid),
            include_str!("../../postpaid-gateway/src/routes.rs"),
        ),
        (None, include_str!("../../http/src/server.rs")),
    ];
    let mut derived: BTreeSet<(Gw, String, String)> = BTreeSet::new();
    for (gw, text) in sources {
        let routes = registered(text);
        let gws: Vec<Gw> = gw.map_or_else(|| Gw::ALL.to_vec(), |g| vec![g]);
        for g in gws {
            for (m, p) in &routes {
                derived.insert((g, m.clone(), p.clone()));
            }
        }
    }
    // The other files of each gateway crate must not register routes of their own.
    for (name, text) in [
        (
            "bill24-proxy/src/lib.rs",
            include_str!("../../bill24-proxy/src/lib.rs"),
        ),
        (
            "collections-api/src/lib.rs",
            include_str!("../../collections-api/src/lib.rs"),
        ),
        (
            "va-gateway/src/lib.rs",
            include_str!("../../va-gateway/src/lib.rs"),
        ),
    ] {
        assert!(
            registered(text).is_empty(),
            "{name} registers routes: add them to the matrix and to this test's sources"
        );
    }
    let listed: BTreeSet<(Gw, String, String)> = all_routes()
        .into_iter()
        .map(|(g, m, p, _)| (g, m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = derived.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&derived).collect();
    assert!(
        missing.is_empty(),
        "routes registered but not in the auth matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "routes in the auth matrix that no gateway registers: {stale:?}"
    );
    // Sanity: the extraction sees what a reader sees.
    assert_eq!(derived.len(), ROUTES.len() + 4 * SHARED.len());
}

// =============================================================================================
// The gateways: one `billhub up` process, its stdout and stderr in one log file

/// The harness's dialect of a gateway of the matrix.
fn dialect(gw: Gw) -> Dialect {
    match gw {
        Gw::Bill24 => Dialect::Bill24,
        Gw::Collections => Dialect::Collections,
        Gw::Va => Dialect::Va,
        Gw::Postpaid => Dialect::Postpaid,
    }
}

/// `billhub up` (H1's harness: free ports, stdout and stderr in one log file, killed on drop),
/// logging at debug level, sandbox on (so `/api/v2/gw/bill/{hash}/mock` is routed).
fn start_gateways(db: &TestDb) -> Gateways {
    let g = Gateways::spawn(
        &db.url,
        &harness::master_key_hex(db),
        &[
            ("BILLHUB_LOG", "debug"),
            ("BILLHUB_LOG_FORMAT", "json"),
            ("BILLHUB_SANDBOX", "true"),
        ],
    );
    println!(
        "auth matrix: gateways on {}, log {}",
        g.base_port(),
        g.log_path().display()
    );
    g
}

fn url(g: &Gateways, gw: Gw, path: &str) -> String {
    format!("{}{path}", g.url(dialect(gw)))
}

// =============================================================================================
// Organizations, credentials and data

const ORG_A: &str = "AUTHORGA";
const ORG_B: &str = "AUTHORGB";
const PREFIX_A: &str = "009911";
const PREFIX_B: &str = "009912";
/// Organization A's account code (Bill24 `consumer_code`, CSQ `account`).
const ACC_A: &str = "AUTHACCA01";
const ACC_B: &str = "AUTHACCB01";
const TERMINAL: &str = "7001";

/// A VA client: OAuth credentials and API key, and a current access token.
#[derive(Debug, Clone, Default)]
struct VaClient {
    client_id: String,
    client_secret: String,
    api_key: String,
    token: String,
}

/// A CSQ terminal network's login.
#[derive(Debug, Clone)]
struct Network {
    user: String,
    password: String,
}

/// What organization A has, as the matrix's requests name it.
#[derive(Debug, Clone, Default)]
struct Data {
    org_id: i64,
    collection: String,
    bill_no: String,
    collections_ref: String,
    product: String,
    customer: String,
    hash: String,
    va_number: String,
    va_ref: String,
    csq_ref: String,
    public_no: String,
}

/// Every credential of the run.
struct Creds {
    bill24_a: String,
    bill24_b: String,
    bill24_revoked: String,
    coll_a: String,
    coll_b: String,
    coll_revoked: String,
    coll_sigkey_a: String,
    va_a: VaClient,
    va_b: VaClient,
    va_revoked: VaClient,
    va_expired_token: String,
    bank_expired_token: String,
    bank_a: VaClient,
    bank_b: VaClient,
    bank_revoked: VaClient,
    net_a: Network,
    net_b: Network,
    net_revoked: Network,
    /// Working credentials revoked while the gateways run (`billhub credential revoke`).
    live: Vec<Live>,
    /// Every secret issued (and each stored hash of one): none may reach a log or an answer.
    secrets: Vec<(String, String)>,
}

/// A credential that works until it is revoked during the run.
struct Live {
    gw: Gw,
    method: &'static str,
    pattern: &'static str,
    guard: Guard,
    credential_id: i64,
    present: Present,
}

/// One working credential of A per kind, revoked during the run.
fn live_credentials(store: &Store, a: i64, now: OffsetDateTime) -> Vec<Live> {
    let hour = time::Duration::hours(1);
    let bill24 = store.create_credential(a, "bill24", false, now).unwrap();
    let coll = store
        .create_credential(a, "collections", false, now)
        .unwrap();
    let va = store.create_credential(a, "va", false, now).unwrap();
    let (va_token, _) = store.issue_access_token(va.id, "*", hour, now).unwrap();
    let bank = store.create_channel("Live Bank", "va", now).unwrap();
    store.enroll(bank.id, a, now).unwrap();
    let bank_cred = channel_credential_id(store, bank.id);
    let (bank_token, _) = store.issue_access_token(bank_cred, "*", hour, now).unwrap();
    let net = store.create_channel("Live Shops", "postpaid", now).unwrap();
    store.enroll(net.id, a, now).unwrap();
    vec![
        Live {
            gw: Gw::Bill24,
            method: "POST",
            pattern: "/proxy",
            guard: Guard::Biller,
            credential_id: bill24.id,
            present: Present::Token(bill24.token.unwrap()),
        },
        Live {
            gw: Gw::Collections,
            method: "GET",
            pattern: "/api/products",
            guard: Guard::Biller,
            credential_id: coll.id,
            present: Present::Bearer(coll.access_token.unwrap()),
        },
        Live {
            gw: Gw::Va,
            method: "GET",
            pattern: "/api/v2/gw/bill",
            guard: Guard::Biller,
            credential_id: va.id,
            present: Present::Va {
                token: va_token,
                key: va.api_key.unwrap(),
            },
        },
        Live {
            gw: Gw::Va,
            method: "POST",
            pattern: "/api/v2/ch/inquiry",
            guard: Guard::Channel,
            credential_id: bank_cred,
            present: Present::Va {
                token: bank_token,
                key: bank.api_key.unwrap(),
            },
        },
        Live {
            gw: Gw::Postpaid,
            method: "GET",
            pattern: "/post-paid/bill-payment/parameters/{terminalId}/{operatorId}",
            guard: Guard::Channel,
            credential_id: channel_credential_id(store, net.id),
            present: Present::Csq {
                user: net.username.unwrap(),
                password: net.password.unwrap(),
                skew: 0,
            },
        },
    ]
}

fn new_org(store: &Store, code: &str, prefix: &str, now: OffsetDateTime) -> i64 {
    store
        .create_organization(
            &NewOrganization {
                code: Some(code.into()),
                name: format!("Biller {code}"),
                utc_offset: UtcOffset::from_hms(7, 0, 0).unwrap(),
                locale: "en".into(),
                settlement: Some(SettlementMode::Open),
                va_prefixes: vec![prefix.into()],
            },
            now,
        )
        .unwrap()
        .id
}

/// A KHR bill of `account` made through the store (seen by Bill24 and CSQ).
fn account_bill(store: &Store, org: i64, account: &str, name: &str, now: OffsetDateTime) {
    let input = AccountInput {
        code: account.into(),
        name: name.into(),
        name_latin: name.into(),
        phone: "010888999".into(),
        ..Default::default()
    };
    let new = NewBill {
        organization_id: org,
        account_id: 0,
        collection_id: None,
        invoice_number: Some(format!("INV-{account}")),
        ref1: String::new(),
        ref2: String::new(),
        name: format!("Water {account}"),
        description: String::new(),
        currency: Currency::KHR,
        billed: 500_000,
        items: vec![],
        bill_date: now.date(),
        due_date: None,
        valid_until: None,
        rule: PaymentRule::Exact,
        source: "cli".into(),
        extra: "{}".into(),
        va_numbers: vec![],
    };
    store.create_bill_for_account(&input, &new, now).unwrap();
}

fn channel_credential_id(store: &Store, channel_id: i64) -> i64 {
    store
        .credential_listings(&Principal::Channel { channel_id })
        .unwrap()[0]
        .id
}

/// Organizations A and B, every credential, revoked and expired ones included.
fn setup(store: &Store, now: OffsetDateTime) -> (i64, i64, Creds) {
    let a = new_org(store, ORG_A, PREFIX_A, now);
    let b = new_org(store, ORG_B, PREFIX_B, now);
    account_bill(store, a, ACC_A, "Alpha Zubaidah", now);
    account_bill(store, b, ACC_B, "Beta Customer", now);
    let cred = |org: i64, dialect: &str| store.create_credential(org, dialect, false, now).unwrap();
    let va = |c: billhub_store::CreatedCredential| VaClient {
        client_id: c.client_id.unwrap(),
        client_secret: c.client_secret.unwrap(),
        api_key: c.api_key.unwrap(),
        token: String::new(),
    };
    let bank = |name: &str, org: i64| {
        let ch = store.create_channel(name, "va", now).unwrap();
        store.enroll(ch.id, org, now).unwrap();
        let client = VaClient {
            client_id: ch.client_id.unwrap(),
            client_secret: ch.client_secret.unwrap(),
            api_key: ch.api_key.unwrap(),
            token: String::new(),
        };
        (ch.id, client)
    };
    let network = |name: &str, org: i64| {
        let ch = store.create_channel(name, "postpaid", now).unwrap();
        store.enroll(ch.id, org, now).unwrap();
        let n = Network {
            user: ch.username.unwrap(),
            password: ch.password.unwrap(),
        };
        (ch.id, n)
    };
    let bill24_revoked = cred(a, "bill24");
    let coll_a = cred(a, "collections");
    let coll_revoked = cred(a, "collections");
    let va_revoked = cred(a, "va");
    let va_a = cred(a, "va");
    // A token issued two hours ago: its hour is over.
    let (va_expired_token, _) = store
        .issue_access_token(
            va_a.id,
            "*",
            time::Duration::hours(1),
            now - time::Duration::hours(2),
        )
        .unwrap();
    // A token issued now for a credential revoked below: still in its hour.
    let (revoked_token, _) = store
        .issue_access_token(va_revoked.id, "*", time::Duration::hours(1), now)
        .unwrap();
    let (bank_revoked_id, mut bank_revoked) = bank("Revoked Bank", a);
    let (bank_revoked_token, _) = store
        .issue_access_token(
            channel_credential_id(store, bank_revoked_id),
            "*",
            time::Duration::hours(1),
            now,
        )
        .unwrap();
    bank_revoked.token = bank_revoked_token;
    let (net_revoked_id, net_revoked) = network("Revoked Shops", a);
    let (bank_a_id, bank_a) = bank("Bank Alpha", a);
    let (bank_expired_token, _) = store
        .issue_access_token(
            channel_credential_id(store, bank_a_id),
            "*",
            time::Duration::hours(1),
            now - time::Duration::hours(2),
        )
        .unwrap();
    for id in [
        bill24_revoked.id,
        coll_revoked.id,
        va_revoked.id,
        channel_credential_id(store, bank_revoked_id),
        channel_credential_id(store, net_revoked_id),
    ] {
        store.revoke_credential(id, now).unwrap();
    }
    let mut va_revoked = va(va_revoked);
    va_revoked.token = revoked_token;
    let creds = Creds {
        bill24_a: cred(a, "bill24").token.unwrap(),
        bill24_b: cred(b, "bill24").token.unwrap(),
        bill24_revoked: bill24_revoked.token.unwrap(),
        coll_sigkey_a: coll_a.signature_key.clone().unwrap(),
        coll_a: coll_a.access_token.unwrap(),
        coll_b: cred(b, "collections").access_token.unwrap(),
        coll_revoked: coll_revoked.access_token.unwrap(),
        va_a: va(va_a),
        va_b: va(cred(b, "va")),
        va_revoked,
        va_expired_token,
        bank_expired_token,
        bank_a,
        bank_b: bank("Bank Beta", b).1,
        bank_revoked,
        net_a: network("Shops Alpha", a).1,
        net_b: network("Shops Beta", b).1,
        net_revoked,
        live: live_credentials(store, a, now),
        secrets: vec![],
    };
    (a, b, creds)
}

impl Creds {
    /// Every secret of the run, and the SHA-256 hash stored for each (the CSQ password's is
    /// the stored secret itself).
    fn collect_secrets(&mut self, master_key_hex: &str) {
        let mut s: Vec<(String, String)> = vec![
            ("bill24 token A".into(), self.bill24_a.clone()),
            ("bill24 token B".into(), self.bill24_b.clone()),
            ("bill24 revoked token".into(), self.bill24_revoked.clone()),
            ("collections token A".into(), self.coll_a.clone()),
            ("collections token B".into(), self.coll_b.clone()),
            (
                "collections revoked token".into(),
                self.coll_revoked.clone(),
            ),
            (
                "collections signature key A".into(),
                self.coll_sigkey_a.clone(),
            ),
            ("va expired token".into(), self.va_expired_token.clone()),
            ("bank expired token".into(), self.bank_expired_token.clone()),
            ("master key".into(), master_key_hex.to_string()),
        ];
        for (name, c) in [
            ("va A", &self.va_a),
            ("va B", &self.va_b),
            ("va revoked", &self.va_revoked),
            ("bank A", &self.bank_a),
            ("bank B", &self.bank_b),
            ("bank revoked", &self.bank_revoked),
        ] {
            s.push((format!("{name} client secret"), c.client_secret.clone()));
            s.push((format!("{name} api key"), c.api_key.clone()));
            if !c.token.is_empty() {
                s.push((format!("{name} access token"), c.token.clone()));
            }
        }
        for (name, n) in [
            ("network A", &self.net_a),
            ("network B", &self.net_b),
            ("network revoked", &self.net_revoked),
        ] {
            s.push((format!("{name} password"), n.password.clone()));
        }
        for (i, l) in self.live.iter().enumerate() {
            match &l.present {
                Present::Token(t) | Present::Bearer(t) => {
                    s.push((format!("live {i} token"), t.clone()))
                }
                Present::Va { token, key } => {
                    s.push((format!("live {i} token"), token.clone()));
                    s.push((format!("live {i} api key"), key.clone()));
                }
                Present::Csq { password, .. } => {
                    s.push((format!("live {i} password"), password.clone()))
                }
                Present::Nothing | Present::OAuth { .. } => {}
            }
        }
        let hashes: Vec<(String, String)> = s
            .iter()
            .filter(|(n, _)| n != "master key")
            .map(|(n, v)| (format!("sha256 of {n}"), sha256_hex(v.as_bytes())))
            .collect();
        s.extend(hashes);
        for (n, v) in &s {
            assert!(v.len() >= 16, "{n} is too short to grep for: {v}");
        }
        self.secrets = s;
    }
}

// =============================================================================================
// Requests

/// A request of the matrix, before credentials are added.
#[derive(Debug, Clone)]
struct Call {
    gw: Gw,
    method: Method,
    pattern: &'static str,
    /// Path and query as sent.
    path: String,
    body: Vec<u8>,
}

/// How a request presents itself.
#[derive(Debug, Clone)]
enum Present {
    Nothing,
    /// Bill24's `token` header.
    Token(String),
    /// `Authorization: Bearer` (collections).
    Bearer(String),
    /// VA: bearer token and `Signature` with `key`.
    Va {
        token: String,
        key: String,
    },
    /// CSQ: `U`, `ST` = now + `skew` s, `SH` from `password`.
    Csq {
        user: String,
        password: String,
        skew: i64,
    },
    /// VA `/oauth/token`: the body's client id and secret.
    OAuth {
        client_id: Option<String>,
        client_secret: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    text: String,
    body: Value,
}

/// The HTTP side of the run: the client, the process, and every signature it sent.
struct Run {
    client: reqwest::Client,
    up: Gateways,
    /// Every `Signature` and `SH` sent: none may reach the log either.
    sent: Vec<String>,
    requests: usize,
}

impl Run {
    async fn send(&mut self, call: &Call, present: &Present) -> Answer {
        let mut body = call.body.clone();
        if let Present::OAuth {
            client_id,
            client_secret,
        } = present
        {
            let mut v = json!({"grant_type": "client_credentials", "scope": "*"});
            if let Some(id) = client_id {
                v["client_id"] = json!(id);
            }
            if let Some(secret) = client_secret {
                v["client_secret"] = json!(secret);
            }
            body = serde_json::to_vec(&v).unwrap();
        }
        let mut rb = self
            .client
            .request(call.method.clone(), url(&self.up, call.gw, &call.path))
            .header("Accept", "application/json");
        match present {
            Present::Nothing | Present::OAuth { .. } => {}
            Present::Token(t) => rb = rb.header("token", t),
            Present::Bearer(t) => rb = rb.header("Authorization", format!("Bearer {t}")),
            Present::Va { token, key } => {
                let query = call.path.split_once('?').map_or("", |(_, q)| q);
                let sig = ipg::sign(key, &body, query);
                self.sent.push(sig.clone());
                rb = rb
                    .header("Authorization", format!("Bearer {token}"))
                    .header("Signature", sig);
            }
            Present::Csq {
                user,
                password,
                skew,
            } => {
                let st = (OffsetDateTime::now_utc().unix_timestamp() + skew).to_string();
                let sh = csq::salted_hash(password, &st);
                self.sent.push(sh.clone());
                rb = rb.header("U", user).header("ST", st).header("SH", sh);
            }
        }
        if !body.is_empty() {
            rb = rb.header("Content-Type", "application/json").body(body);
        }
        let resp = rb.send().await.unwrap();
        self.requests += 1;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, text, body }
    }
}

fn json_call(gw: Gw, method: Method, pattern: &'static str, path: String, body: &Value) -> Call {
    let text = serde_json::to_string(body).unwrap();
    let text = if gw == Gw::Va {
        ipg::php_escape(&text)
    } else {
        text
    };
    Call {
        gw,
        method,
        pattern,
        path,
        body: text.into_bytes(),
    }
}

fn empty_call(gw: Gw, method: Method, pattern: &'static str, path: String) -> Call {
    Call {
        gw,
        method,
        pattern,
        path,
        body: vec![],
    }
}

/// The local time at +07:00 as `Y-m-d H:i:s` (VA `transaction_date`).
fn wib_now() -> String {
    let t = OffsetDateTime::now_utc().to_offset(UtcOffset::from_hms(7, 0, 0).unwrap());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn rfc3339_now() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn va_bill_body(va_number: &str, prefix: &str, org: &str, name: &str) -> Value {
    let valid = va_gateway::wire::iso(
        OffsetDateTime::now_utc() + time::Duration::days(30),
        UtcOffset::from_hms(7, 0, 0).unwrap(),
    );
    json!({
        "va_number": va_number,
        "invoice_number": format!("INV/{va_number}"),
        "prefix": prefix,
        "name": "SPP",
        "total_amount": 100_000,
        "institution_code": org,
        "type": "close",
        "valid_until": valid,
        "components": [{"name": "SPP", "qty": 1, "price": 100_000, "total": 100_000}],
        "customer_name": name,
        "customer_email": "alpha@example.com",
        "customer_phone": "+621234567890",
        "customer_address": "Surabaya",
        "description": "SPP",
        "ext_description": "-"
    })
}

fn va_channel_body(va_number: &str, ref_id: &str) -> Value {
    json!({
        "va_number": va_number,
        "ref_id": ref_id,
        "terminal_id": "mobile_banking",
        "transaction_date": wib_now(),
    })
}

fn collections_bill_body() -> Value {
    let due = (OffsetDateTime::now_utc().date() + time::Duration::days(7)).to_string();
    json!({
        "due": due,
        "ref1": "AlphaRef1",
        "ref2": "",
        "currency": "MYR",
        "customer": {
            "first_name": "Alpha", "last_name": "Zubaidah", "address": "Kuala Lumpur",
            "email": "zubaidah@example.com", "mobile": "60123456789"
        },
        "product": [{"title": "AlphaOnly Fee", "price": "10.00", "quantity": 1}]
    })
}

fn csq_pay_body(account: &str, code: &str, amount_x100: i64) -> Value {
    json!({
        "amountToSendX100": amount_x100,
        "localDateTime": rfc3339_now(),
        "additionalData": [
            {"key": "account", "value": account},
            {"key": "transaction_code", "value": code}
        ]
    })
}

/// The request the matrix sends to a route: always about organization A's things.
fn call_for(gw: Gw, method: &str, pattern: &'static str, d: &Data) -> Call {
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let path = pattern
        .replace("{code}", &d.collection)
        .replace("{bill_no}", &d.bill_no)
        .replace("{ref_id}", &d.collections_ref)
        .replace("{hash}", &d.hash)
        .replace("{public_no}", &d.public_no)
        .replace("{uid}", "0b7c6c2e-5d7e-4a39-9a51-6f1b2c3d4e5f")
        .replace("{terminalId}", TERMINAL)
        .replace("{operatorId}", &d.org_id.to_string())
        .replace("{localReference}", "880001")
        .replace("{originalLocalReference}", &d.csq_ref)
        .replace(
            "{creationDate}",
            &OffsetDateTime::now_utc()
                .date()
                .to_string()
                .replace('-', ""),
        )
        .replace("{echo}", "hello");
    let (path, body) = match (gw, method, pattern) {
        (Gw::Bill24, _, "/webhook") => {
            let b = json!({
                "tran_id": "AUTH-MATRIX-1", "tran_no": "6K0BTGwG7HsF",
                "payment_service_type": "Bank Channel", "tran_date": rfc3339_now(),
                "tran_amount": 5000, "currency": "KHR", "bank_code": "AC",
                "bank_name": "ACLEDA", "bank_ref": "AC00112301", "identity_code": ACC_A,
                "purpose_of_transaction": "", "device_code": "", "status": "success",
                "customers": [{"branch_code": "", "branch_name": "", "customer_code": ACC_A,
                    "customer_name": "X", "customer_name_latin": "", "bill_no": "", "amount": 5000}]
            });
            (path, Some(b))
        }
        (Gw::Bill24, _, _) => (path, Some(json!({"consumer_code": ACC_A}))),
        (Gw::Collections, "POST", "/api/collections") => {
            (path, Some(json!({"name": "Matrix collection"})))
        }
        (Gw::Collections, "POST", "/api/products") => (
            path,
            Some(json!({"title": "Matrix product", "price": "1.00", "currency": "MYR"})),
        ),
        (Gw::Collections, "POST", "/api/customers") => (
            path,
            Some(json!({"first_name": "Matrix", "last_name": "Caller",
                "email": "matrix@example.com", "mobile": "60111111111"})),
        ),
        (Gw::Collections, "POST", _) => (path, Some(collections_bill_body())),
        (Gw::Collections, "PATCH", "/api/collections/{code}") => {
            (path, Some(json!({"name": "Changed by the matrix"})))
        }
        (Gw::Collections, "PATCH", "/api/products/{id}") => {
            (path, Some(json!({"title": "Changed by the matrix"})))
        }
        (Gw::Collections, "PATCH", "/api/customers/{id}") => {
            (path, Some(json!({"first_name": "Changed"})))
        }
        (Gw::Collections, "PATCH", _) => (path, Some(json!({"ref2": "Changed by the matrix"}))),
        (Gw::Va, _, "/oauth/token") => (path, Some(json!({}))),
        (Gw::Va, "POST", "/api/v2/gw/bill") => (
            path,
            Some(va_bill_body("5550000002", PREFIX_A, ORG_A, "Matrix Caller")),
        ),
        (Gw::Va, "GET", "/api/v2/gw/bill" | "/api/v2/gw/payment") => {
            (format!("{path}?institution_code={ORG_A}"), None)
        }
        (Gw::Va, "GET", "/api/v2/gw/bill/{hash}/mock") => (
            format!(
                "{path}?institution_code={ORG_A}&type=payment&amount=100000&ref_id=AUTH-MOCK-2"
            ),
            None,
        ),
        (Gw::Va, "GET", _) => (format!("{path}?institution_code={ORG_A}"), None),
        (Gw::Va, "DELETE", _) => (path, Some(json!({}))),
        (Gw::Va, "POST", "/api/v2/gw/bill/{hash}/mock") => (
            path,
            Some(json!({"type": "payment", "amount": 100_000, "ref_id": "AUTH-MOCK-1"})),
        ),
        (Gw::Va, "POST", "/api/v2/ch/inquiry") => {
            (path, Some(va_channel_body(&d.va_number, "AUTH-INQ-1")))
        }
        (Gw::Va, "POST", "/api/v2/ch/payment") => {
            let mut b = va_channel_body(&d.va_number, "AUTH-PAY-1");
            b["amount"] = json!("100000");
            b["customer_name"] = json!("Matrix Caller");
            (path, Some(b))
        }
        (Gw::Va, "POST", "/api/v2/ch/reversal") => (
            path,
            Some(json!({"bill_id": d.hash, "payment_ref": d.va_ref, "amount": 100_000})),
        ),
        (Gw::Postpaid, "POST", p) if p.contains("invoices") => {
            (path, Some(json!([{"key": "account", "value": ACC_A}])))
        }
        (Gw::Postpaid, "POST", p) if p.contains("payment") => {
            (path, Some(csq_pay_body(ACC_A, "123456", 500_000)))
        }
        (Gw::Postpaid, "POST", _) => (
            path,
            Some(json!({
                "amountToSendX100": 500_000, "localDateTime": rfc3339_now(), "account": ACC_A,
                "originalLocalReference": d.csq_ref, "originalLocalDate": OffsetDateTime::now_utc().date().to_string()
            })),
        ),
        _ => (path, None),
    };
    match body {
        Some(b) => json_call(gw, m, pattern, path, &b),
        None => empty_call(gw, m, pattern, path),
    }
}

// =============================================================================================
// The credential cases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// No credential at all.
    None,
    /// A credential nobody was issued.
    Wrong,
    /// The right identity with a wrong secret (VA: a bad `Signature`; CSQ: a wrong password;
    /// collections: the organization's callback signature key as a bearer token; OAuth: a
    /// wrong client secret; Bill24: the token with one character changed).
    WrongSecret,
    /// Past its lifetime (VA: a token issued two hours ago; CSQ: `ST` 10 minutes old).
    Expired,
    /// A revoked credential.
    Revoked,
    /// A valid credential of another dialect.
    OtherDialect,
    /// VA: a bank's credential on the biller API, a biller's on the channel API.
    OtherSide,
    /// Another organization's valid credential (a channel enrolled only with B).
    OtherOrg,
}

const CASES: [Case; 8] = [
    Case::None,
    Case::Wrong,
    Case::WrongSecret,
    Case::Expired,
    Case::Revoked,
    Case::OtherDialect,
    Case::OtherSide,
    Case::OtherOrg,
];

fn near_miss(token: &str) -> String {
    let mut t: Vec<char> = token.chars().collect();
    t[0] = if t[0] == '0' { '1' } else { '0' };
    t.into_iter().collect()
}

fn va(c: &VaClient) -> Present {
    Present::Va {
        token: c.token.clone(),
        key: c.api_key.clone(),
    }
}

fn csq_as(n: &Network, skew: i64) -> Present {
    Present::Csq {
        user: n.user.clone(),
        password: n.password.clone(),
        skew,
    }
}

/// The presentation of `case` on a route, `None` when the case does not exist there (Bill24
/// and collections tokens do not expire; only VA has two sides; OAuth client credentials do
/// not expire).
fn present(gw: Gw, guard: Guard, case: Case, c: &Creds) -> Option<Present> {
    let unknown = "0123456789abcdef0123456789abcdef".to_string();
    let p = match (gw, guard, case) {
        (_, Guard::Public, Case::None) => Present::Nothing,
        (_, Guard::Public, _) => return None,
        (Gw::Va, Guard::OAuth, case) => {
            let (id, secret) = match case {
                Case::None => {
                    return Some(Present::OAuth {
                        client_id: None,
                        client_secret: None,
                    });
                }
                Case::Wrong => ("no-such-client".to_string(), unknown),
                Case::WrongSecret => (c.va_a.client_id.clone(), near_miss(&c.va_a.client_secret)),
                Case::Revoked => (
                    c.va_revoked.client_id.clone(),
                    c.va_revoked.client_secret.clone(),
                ),
                Case::OtherDialect => (c.va_a.client_id.clone(), c.bill24_a.clone()),
                Case::OtherOrg => (c.va_b.client_id.clone(), c.va_b.client_secret.clone()),
                _ => return None,
            };
            Present::OAuth {
                client_id: Some(id),
                client_secret: Some(secret),
            }
        }
        (_, _, Case::None) => Present::Nothing,
        (Gw::Bill24, _, Case::Wrong) => Present::Token(unknown),
        (Gw::Bill24, _, Case::WrongSecret) => Present::Token(near_miss(&c.bill24_a)),
        (Gw::Bill24, _, Case::Revoked) => Present::Token(c.bill24_revoked.clone()),
        (Gw::Bill24, _, Case::OtherDialect) => Present::Token(c.coll_a.clone()),
        (Gw::Bill24, _, Case::OtherOrg) => Present::Token(c.bill24_b.clone()),
        (Gw::Collections, _, Case::Wrong) => Present::Bearer(unknown),
        (Gw::Collections, _, Case::WrongSecret) => Present::Bearer(c.coll_sigkey_a.clone()),
        (Gw::Collections, _, Case::Revoked) => Present::Bearer(c.coll_revoked.clone()),
        (Gw::Collections, _, Case::OtherDialect) => Present::Bearer(c.bill24_a.clone()),
        (Gw::Collections, _, Case::OtherOrg) => Present::Bearer(c.coll_b.clone()),
        (Gw::Va, _, case) => {
            let (own, other_side, other_org) = if guard == Guard::Biller {
                (&c.va_a, &c.bank_a, &c.va_b)
            } else {
                (&c.bank_a, &c.va_a, &c.bank_b)
            };
            match case {
                Case::Wrong => Present::Va {
                    token: "x".repeat(64),
                    key: own.api_key.clone(),
                },
                Case::WrongSecret => Present::Va {
                    token: own.token.clone(),
                    key: near_miss(&own.api_key),
                },
                Case::Expired => Present::Va {
                    token: if guard == Guard::Biller {
                        c.va_expired_token.clone()
                    } else {
                        c.bank_expired_token.clone()
                    },
                    key: own.api_key.clone(),
                },
                Case::Revoked if guard == Guard::Biller => va(&c.va_revoked),
                Case::Revoked => va(&c.bank_revoked),
                Case::OtherDialect => Present::Va {
                    token: c.coll_a.clone(),
                    key: own.api_key.clone(),
                },
                Case::OtherSide => va(other_side),
                Case::OtherOrg => va(other_org),
                Case::None => Present::Nothing,
            }
        }
        (Gw::Postpaid, _, case) => match case {
            Case::Wrong => Present::Csq {
                user: "no-such-network".into(),
                password: "whatever-password".into(),
                skew: 0,
            },
            Case::WrongSecret => Present::Csq {
                user: c.net_a.user.clone(),
                password: near_miss(&c.net_a.password),
                skew: 0,
            },
            Case::Expired => csq_as(&c.net_a, -600),
            Case::Revoked => csq_as(&c.net_revoked, 0),
            Case::OtherDialect => Present::Csq {
                user: c.bank_a.client_id.clone(),
                password: c.bank_a.client_secret.clone(),
                skew: 0,
            },
            Case::OtherOrg => csq_as(&c.net_b, 0),
            Case::OtherSide | Case::None => return None,
        },
        (_, _, Case::Expired | Case::OtherSide) => return None,
    };
    Some(p)
}

// =============================================================================================
// What each refusal must be (docs/dialects/*.md)

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// The documented refusal of `case` on a route (every case but `OtherOrg` and `Public`).
fn assert_refused(call: &Call, guard: Guard, case: Case, a: &Answer) {
    let what = format!(
        "{:?} {} {} [{case:?}]: {} {}",
        call.gw, call.method, call.pattern, a.status, a.text
    );
    match (call.gw, guard) {
        (Gw::Bill24, _) => {
            let message = if case == Case::None {
                "The token header is missing."
            } else {
                "The token is not valid."
            };
            assert_eq!(a.status, 401, "{what}");
            if call.pattern == "/webhook" {
                assert_eq!(
                    a.body,
                    json!({"status": "Error", "message": message}),
                    "{what}"
                );
            } else {
                assert_eq!(
                    a.body,
                    json!({"code": 401, "message": message, "message_kh": "មិនមានការអនុញ្ញាត", "data": null}),
                    "{what}"
                );
            }
        }
        (Gw::Collections, _) => {
            assert_eq!(a.status, 401, "{what}");
            assert_eq!(a.body, json!({"message": "Unauthenticated."}), "{what}");
        }
        (Gw::Va, Guard::OAuth) => {
            if case == Case::None {
                assert_eq!(a.status, 400, "{what}");
                assert_eq!(a.body["error"], json!("invalid_request"), "{what}");
            } else {
                assert_eq!(a.status, 401, "{what}");
                assert_eq!(
                    a.body,
                    json!({"error": "invalid_client", "error_description": "Client authentication failed", "message": "Client authentication failed"}),
                    "{what}"
                );
            }
        }
        (Gw::Va, _) => {
            let (status, rc, message) = match case {
                Case::None => (401, "UNAUTHORIZED", "Missing bearer access token."),
                Case::WrongSecret => (401, "UNAUTHORIZED", "Invalid signature."),
                Case::OtherSide if guard == Guard::Biller => (
                    403,
                    "FORBIDDEN",
                    "A bank credential cannot call the biller API.",
                ),
                Case::OtherSide => (
                    403,
                    "FORBIDDEN",
                    "A biller credential cannot call the channel API.",
                ),
                _ => (
                    401,
                    "UNAUTHORIZED",
                    "The access token is invalid or has expired.",
                ),
            };
            assert_eq!(a.status, status, "{what}");
            assert_eq!(
                keys(&a.body),
                ["data", "message", "rc", "timestamp"],
                "{what}"
            );
            assert_eq!(a.body["rc"], json!(rc), "{what}");
            assert_eq!(a.body["message"], json!(message), "{what}");
            assert_eq!(a.body["data"], Value::Null, "{what}");
            assert!(
                a.body["timestamp"].as_str().unwrap().ends_with("+07:00"),
                "{what}"
            );
        }
        (Gw::Postpaid, _) => {
            if guard == Guard::Ping && case == Case::None {
                assert_eq!(a.status, 200, "{what}");
                let echo = if call.pattern == "/ping" {
                    "pong"
                } else {
                    "hello"
                };
                assert_eq!(a.body, json!({"rc": 0, "message": echo}), "{what}");
                return;
            }
            let message = match case {
                Case::None => "Unauthorized: missing header U, ST, SH".to_string(),
                Case::Expired => {
                    "Unauthorized: ST is 600 s away from the server's clock (at most 30 s allowed)"
                        .to_string()
                }
                _ => "Unauthorized: wrong U or SH".to_string(),
            };
            assert_eq!(a.status, 401, "{what}");
            // The clock may tick between signing and checking.
            let got = a.body["message"]
                .as_str()
                .unwrap_or("")
                .replace("601 s", "600 s");
            assert_eq!(got, message, "{what}");
            assert_eq!(
                keys(&a.body),
                ["items", "message", "rc", "resultcode"],
                "{what}"
            );
            assert_eq!(a.body["rc"], json!(-1), "{what}");
            assert_eq!(a.body["resultcode"], json!("900"), "{what}");
            assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{what}");
            assert_eq!(a.body["items"][0]["resultcode"], json!("900"), "{what}");
        }
    }
}

// =============================================================================================
// The run

impl Run {
    /// A valid call that must succeed (2xx); returns its body.
    async fn ok(&mut self, call: &Call, present: &Present) -> Value {
        let a = self.send(call, present).await;
        assert!(
            (200..300).contains(&a.status),
            "{:?} {} {}: {} {}",
            call.gw,
            call.method,
            call.path,
            a.status,
            a.text
        );
        a.body
    }

    async fn va_token(&mut self, c: &VaClient) -> String {
        let call = empty_call(Gw::Va, Method::POST, "/oauth/token", "/oauth/token".into());
        let v = self
            .ok(
                &call,
                &Present::OAuth {
                    client_id: Some(c.client_id.clone()),
                    client_secret: Some(c.client_secret.clone()),
                },
            )
            .await;
        v["access_token"].as_str().unwrap().to_string()
    }

    /// Each live credential works, is revoked with `billhub credential revoke` (another
    /// process), and is refused in its dialect's shape within the documented 5 s (the
    /// authentication cache). All are revoked at once, then polled; returns the slowest time to
    /// refusal.
    async fn revoke_live(&mut self, db: &TestDb, d: &Data, live: &[Live]) -> Duration {
        let calls: Vec<Call> = live
            .iter()
            .map(|l| call_for(l.gw, l.method, l.pattern, d))
            .collect();
        let mut revoked_at = Vec::new();
        for (l, call) in live.iter().zip(&calls) {
            // Authenticated (VA's inquiry of A's paid bill answers 409: past auth).
            let first = self.send(call, &l.present).await;
            assert!(
                ![401, 403].contains(&first.status),
                "{:?} {}: {}",
                l.gw,
                l.pattern,
                first.text
            );
        }
        for l in live {
            let id = l.credential_id.to_string();
            harness::billhub_ok(db, &["credential", "revoke", &id, "--json"]);
            revoked_at.push(Instant::now());
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut pending: Vec<usize> = (0..live.len()).collect();
        let mut slowest = Duration::ZERO;
        while !pending.is_empty() {
            let mut still = Vec::new();
            for i in pending {
                let (l, call) = (&live[i], &calls[i]);
                let a = self.send(call, &l.present).await;
                if a.status == 401 {
                    let took = revoked_at[i].elapsed();
                    assert_refused(call, l.guard, Case::Revoked, &a);
                    assert!(
                        took <= Duration::from_millis(6_500),
                        "{:?} {}: refused only {took:?} after the revocation (documented: 5 s)",
                        l.gw,
                        l.pattern
                    );
                    slowest = slowest.max(took);
                } else {
                    assert!(
                        Instant::now() < deadline,
                        "{:?} {}: still accepted 15 s after the revocation: {}",
                        l.gw,
                        l.pattern,
                        a.text
                    );
                    still.push(i);
                }
            }
            pending = still;
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        slowest
    }

    /// Organization A's things, made with A's valid credentials (and B's, a few).
    async fn make_data(&mut self, store: &Store, a: i64, c: &mut Creds) -> Data {
        for client in [&mut c.va_a, &mut c.va_b, &mut c.bank_a, &mut c.bank_b] {
            let snapshot = client.clone();
            client.token = self.va_token(&snapshot).await;
        }
        let mut d = Data {
            org_id: a,
            ..Data::default()
        };
        let coll = Present::Bearer(c.coll_a.clone());
        let post = |path: &str, body: &Value| {
            json_call(Gw::Collections, Method::POST, "", path.to_string(), body)
        };
        let v = self
            .ok(
                &post("/api/collections", &json!({"name": "Alpha Collection"})),
                &coll,
            )
            .await;
        d.collection = v["code"].as_str().unwrap().to_string();
        let v = self
            .ok(
                &post(
                    &format!("/api/collections/{}/bills", d.collection),
                    &collections_bill_body(),
                ),
                &coll,
            )
            .await;
        d.bill_no = v["bill_no"].as_str().unwrap().to_string();
        d.public_no = d.bill_no.clone();
        let v = self
            .ok(
                &post(
                    "/api/products",
                    &json!({"title": "AlphaOnly Product", "price": "3.00", "currency": "MYR"}),
                ),
                &coll,
            )
            .await;
        d.product = v["id"].to_string().trim_matches('"').to_string();
        let v = self
            .ok(
                &post(
                    "/api/customers",
                    &json!({"first_name": "Alpha", "last_name": "Zubaidah",
                        "email": "zubaidah@example.com", "mobile": "60123456789"}),
                ),
                &coll,
            )
            .await;
        d.customer = v["id"].to_string().trim_matches('"').to_string();
        // A payment on the collections bill (the sandbox channel, through the store).
        let bill = store
            .snapshot(|r| r.bill_by_public_no_anywhere(&d.bill_no))
            .unwrap()
            .unwrap();
        d.collections_ref = "AUTHCOLLREF1".into();
        let amount = Money::parse("10.00", Currency::MYR).unwrap();
        store
            .post_payment(
                &PaymentRequest {
                    organization_id: a,
                    channel: "sandbox".into(),
                    channel_ref: d.collections_ref.clone(),
                    request_hash: fingerprint(&[&d.collections_ref, &amount.to_fixed_string()]),
                    target: PaymentTarget::Bill { bill_id: bill.id },
                    amount,
                    fee: 0,
                    method: "fpx".into(),
                    payer_name: "Alpha Zubaidah".into(),
                    details: "{}".into(),
                    paid_at: OffsetDateTime::now_utc(),
                    on_rejection: OnRejection::Refuse,
                },
                OffsetDateTime::now_utc(),
            )
            .unwrap();
        // A VA bill of A, paid by A's bank; one of B too.
        let v = self
            .ok(
                &json_call(
                    Gw::Va,
                    Method::POST,
                    "",
                    "/api/v2/gw/bill".into(),
                    &va_bill_body("5550000001", PREFIX_A, ORG_A, "Alpha Zubaidah"),
                ),
                &va(&c.va_a),
            )
            .await;
        d.hash = v["data"]["hash"].as_str().unwrap().to_string();
        d.va_number = v["data"]["va_number"].as_str().unwrap().to_string();
        self.ok(
            &json_call(
                Gw::Va,
                Method::POST,
                "",
                "/api/v2/gw/bill".into(),
                &va_bill_body("5550000009", PREFIX_B, ORG_B, "Beta Customer"),
            ),
            &va(&c.va_b),
        )
        .await;
        d.va_ref = "AUTH-VA-REF-1".into();
        let mut pay = va_channel_body(&d.va_number, &d.va_ref);
        pay["amount"] = json!("100000");
        pay["customer_name"] = json!("Alpha Zubaidah");
        let v = self
            .ok(
                &json_call(Gw::Va, Method::POST, "", "/api/v2/ch/payment".into(), &pay),
                &va(&c.bank_a),
            )
            .await;
        assert_eq!(v["rc"], json!("SUCCESS"), "{v}");
        // A CSQ payment of A's account bill.
        let net = csq_as(&c.net_a, 0);
        let path = format!("/post-paid/bill-payment/get-invoices/{TERMINAL}/{a}");
        let v = self
            .ok(
                &json_call(
                    Gw::Postpaid,
                    Method::POST,
                    "",
                    path,
                    &json!([{"key": "account", "value": ACC_A}]),
                ),
                &net,
            )
            .await;
        let code = v["additionalData"][0]["value"]
            .as_str()
            .unwrap()
            .to_string();
        d.csq_ref = "770001".into();
        let path = format!(
            "/post-paid/bill-payment/payment/{TERMINAL}/{a}/{}",
            d.csq_ref
        );
        let body = csq_pay_body(ACC_A, &code, 500_000);
        let v = self
            .ok(
                &json_call(Gw::Postpaid, Method::POST, "", path, &body),
                &csq_as(&c.net_a, 1),
            )
            .await;
        assert_eq!(
            (v["rc"].clone(), v["items"][0]["resultcode"].clone()),
            (json!(0), json!("10")),
            "{v}"
        );
        d
    }

    /// Organization A as A sees it: every read route's answer (timestamps aside).
    async fn view_of_a(&mut self, d: &Data, c: &Creds) -> Vec<Value> {
        let coll = Present::Bearer(c.coll_a.clone());
        let mut out = vec![];
        for path in [
            format!("/api/collections/{}", d.collection),
            format!("/api/collections/{}/bills/{}", d.collection, d.bill_no),
            format!(
                "/api/collections/{}/bills/{}/transactions",
                d.collection, d.bill_no
            ),
            format!("/api/products/{}", d.product),
            format!("/api/customers/{}", d.customer),
            "/api/collections".into(),
            "/api/products".into(),
            "/api/customers".into(),
        ] {
            out.push(
                self.ok(&empty_call(Gw::Collections, Method::GET, "", path), &coll)
                    .await,
            );
        }
        for path in [
            format!("/api/v2/gw/bill/{}?institution_code={ORG_A}", d.hash),
            format!(
                "/api/v2/gw/bill/{}/payment?institution_code={ORG_A}",
                d.hash
            ),
            format!("/api/v2/gw/bill?institution_code={ORG_A}"),
            format!("/api/v2/gw/payment?institution_code={ORG_A}"),
        ] {
            let mut v = self
                .ok(&empty_call(Gw::Va, Method::GET, "", path), &va(&c.va_a))
                .await;
            v["timestamp"] = Value::Null;
            out.push(v);
        }
        for path in ["/proxy", "/pending_bills"] {
            let call = json_call(
                Gw::Bill24,
                Method::POST,
                "",
                path.into(),
                &json!({"consumer_code": ACC_A}),
            );
            out.push(self.ok(&call, &Present::Token(c.bill24_a.clone())).await);
        }
        out
    }
}

/// What organization A's answers contain that B must never see.
fn markers_of_a(d: &Data) -> Vec<String> {
    let mut m: Vec<String> = [
        ORG_A,
        "Biller AUTHORGA",
        ACC_A,
        "Zubaidah",
        "AlphaOnly",
        "AlphaRef1",
        PREFIX_A,
        "Alpha Collection",
        "AUTHCOLLREF1",
        "AUTH-VA-REF-1",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for v in [
        &d.collection,
        &d.bill_no,
        &d.hash,
        &d.va_number,
        &d.product,
        &d.customer,
    ] {
        if v.len() >= 6 {
            m.push(v.clone());
        }
    }
    m
}

/// Another organization's valid credential on a route about A's things: A's things are not
/// found (or, for a list or a create, only B's own are seen or made); nothing of A is said.
fn assert_other_org(call: &Call, d: &Data, a: &Answer, markers: &[String]) {
    let what = format!(
        "{:?} {} {} [OtherOrg]: {} {}",
        call.gw, call.method, call.pattern, a.status, a.text
    );
    let sent = format!("{} {}", call.path, String::from_utf8_lossy(&call.body));
    for m in markers {
        if !sent.contains(m.as_str()) {
            assert!(!a.text.contains(m.as_str()), "leaks `{m}` of A: {what}");
        }
    }
    assert!(a.status < 500, "{what}");
    match other_org_answer(call, d) {
        Expect::Status(s) => assert_eq!(a.status, s, "{what}"),
        Expect::Json(s, body) => {
            assert_eq!(a.status, s, "{what}");
            assert_eq!(a.body, body, "{what}");
        }
        Expect::Field(s, key, value) => {
            assert_eq!(a.status, s, "{what}");
            assert_eq!(a.body[key], value, "{what}");
        }
    }
}

enum Expect {
    Status(u16),
    Json(u16, Value),
    Field(u16, &'static str, Value),
}

/// What another organization's valid credential gets on a route about A's things.
fn other_org_answer(call: &Call, d: &Data) -> Expect {
    let not_found =
        |what: &str| Expect::Json(404, json!({"message": format!("{what} not found.")}));
    let csq = |message: String| {
        Expect::Json(
            200,
            json!({"rc": -1, "resultcode": "900", "message": message, "items": [{
                "finalstatus": -1, "resultcode": "900", "resultmessage": message,
                "supplierreference": "", "suppliertoken": "", "destinationcurrency": "",
                "destinationamount": 0}]}),
        )
    };
    let b_institution = call.path.contains(&format!("institution_code={ORG_B}"));
    match (call.gw, call.method.as_str(), call.pattern) {
        (Gw::Bill24, _, "/webhook") => {
            // Money B's token reports is B's: kept unapplied there (checked after the run).
            Expect::Json(200, json!({"status": "Success", "message": "SUCCESS"}))
        }
        (Gw::Bill24, _, _) => Expect::Json(
            200,
            json!({"code": 1, "message": "Error Not Found", "message_kh": "រកមិនឃើញ", "data": null}),
        ),
        // Lists and creates: B's own, without A's (the markers are checked).
        (Gw::Collections, _, "/api/collections" | "/api/products" | "/api/customers") => {
            Expect::Status(200)
        }
        (Gw::Collections, "POST", "/api/collections/{code}/bills") => not_found("Resource"),
        (Gw::Collections, _, "/api/collections/{code}" | "/api/collections/{code}/bills") => {
            not_found("Collection")
        }
        (Gw::Collections, _, p) if p.starts_with("/api/collections/") => not_found("Bill"),
        (Gw::Collections, _, p) if p.starts_with("/api/products/") => not_found("Product"),
        (Gw::Collections, _, _) => not_found("Customer"),
        (Gw::Va, _, "/oauth/token") => Expect::Field(200, "token_type", json!("Bearer")),
        (Gw::Va, "GET", "/api/v2/gw/bill" | "/api/v2/gw/payment") if b_institution => {
            Expect::Field(200, "rc", json!("SUCCESS"))
        }
        (Gw::Va, "GET", _) if b_institution => Expect::Field(404, "rc", json!("BILL_NOT_FOUND")),
        (Gw::Va, "POST", "/api/v2/gw/bill") | (Gw::Va, "GET", _) => {
            Expect::Field(422, "rc", json!("VALIDATION_ERROR"))
        }
        (Gw::Va, _, _) => Expect::Field(404, "rc", json!("BILL_NOT_FOUND")),
        (Gw::Postpaid, _, p) if p.starts_with("/util/transaction/info/") => csq(format!(
            "Invalid parameters: no transaction {} of terminal {TERMINAL} on {}",
            d.csq_ref,
            OffsetDateTime::now_utc().date()
        )),
        (Gw::Postpaid, _, _) => csq(format!("Invalid parameters: unknown operator {}", d.org_id)),
    }
}

/// Every route with every case: the matrix itself. Returns how many cells were checked.
async fn matrix(run: &mut Run, d: &Data, c: &Creds) -> usize {
    let markers = markers_of_a(d);
    let mut cells = 0;
    for (gw, method, pattern, guard) in all_routes() {
        let call = call_for(gw, method, pattern, d);
        for case in CASES {
            let Some(p) = present(gw, guard, case, c) else {
                continue;
            };
            let a = run.send(&call, &p).await;
            cells += 1;
            for (name, secret) in &c.secrets {
                assert!(
                    !a.text.contains(secret.as_str()),
                    "{gw:?} {method} {pattern} [{case:?}] answers the {name}"
                );
            }
            match (guard, case) {
                (Guard::Public, _) => assert_public(&call, &a),
                (Guard::Ping, Case::OtherOrg) => {
                    assert_eq!(
                        (a.status, &a.body),
                        (
                            200,
                            &json!({"rc": 0, "message": if pattern == "/ping" { "pong" } else { "hello" }})
                        )
                    );
                }
                (_, Case::OtherOrg) => {
                    assert_other_org(&call, d, &a, &markers);
                    // VA: also with B's own institution code (a lookup, not a mismatch).
                    let own = format!("institution_code={ORG_A}");
                    if gw == Gw::Va && call.path.contains(&own) {
                        let mut mine = call.clone();
                        mine.path = call
                            .path
                            .replace(&own, &format!("institution_code={ORG_B}"));
                        let a = run.send(&mine, &p).await;
                        cells += 1;
                        assert_other_org(&mine, d, &a, &markers);
                    }
                }
                _ => assert_refused(&call, guard, case, &a),
            }
        }
    }
    cells
}

/// The shared routes answer without a credential.
fn assert_public(call: &Call, a: &Answer) {
    let what = format!("{:?} {}: {} {}", call.gw, call.pattern, a.status, a.text);
    match call.pattern {
        "/healthz" => assert_eq!(
            (a.status, &a.body),
            (200, &json!({"status": "ok"})),
            "{what}"
        ),
        "/readyz" => assert_eq!(a.status, 200, "{what}"),
        "/metrics" => assert!(a.status == 200 && a.text.contains("billhub_"), "{what}"),
        // The hosted page of a bill: its unguessable number is the capability.
        "/b/{public_no}" => assert_eq!(a.status, 200, "{what}"),
        "/r/{uid}" => assert_eq!(a.status, 404, "{what}"),
        other => panic!("no expectation for {other}"),
    }
}

fn auth_matrix(db: TestDb) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (a, b, creds) = setup(&db, OffsetDateTime::now_utc());
    let up = start_gateways(&db);
    rt.block_on(auth_matrix_run(db, up, a, b, creds));
}

async fn auth_matrix_run(db: TestDb, up: Gateways, a: i64, b: i64, mut creds: Creds) {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut run = Run {
        client,
        up,
        sent: vec![],
        requests: 0,
    };
    let data = run.make_data(&db, a, &mut creds).await;
    creds.collect_secrets(&db.master_key().to_hex());
    let before = run.view_of_a(&data, &creds).await;
    let cells = matrix(&mut run, &data, &creds).await;
    let after = run.view_of_a(&data, &creds).await;
    let slowest = run.revoke_live(&db, &data, &creds.live).await;
    assert_eq!(before, after, "organization A changed during the matrix");
    // B's token reporting money for A's consumer code: kept as B's unapplied money, not A's.
    assert!(db.unapplied_payments(Some(a)).unwrap().is_empty());
    assert_eq!(db.unapplied_payments(Some(b)).unwrap().len(), 1);
    run.up.terminate(Duration::from_secs(30));
    let log = run.up.log_text();
    let lines = log.lines().count();
    assert!(
        log.matches("request finished").count() >= run.requests,
        "the log does not show every request ({} requests): {log}",
        run.requests
    );
    // The grep is not vacuous: what the gateways do log (a Bill24 `tran_id`) is there.
    assert!(
        log.contains("AUTH-MATRIX-1"),
        "the log misses the webhook's tran_id"
    );
    for (name, secret) in &creds.secrets {
        let prefix = &secret[..16];
        assert!(
            !log.contains(prefix),
            "the log holds the {name} ({prefix}...)"
        );
    }
    for sig in &run.sent {
        assert!(
            !log.contains(sig.as_str()),
            "the log holds a signature sent: {sig}"
        );
    }
    harness::assert_check_clean(&db);
    let mut report = String::new();
    let _ = write!(
        report,
        "auth matrix ({:?}): {} routes, {cells} cells, {} requests, {} secrets and {} signatures \
         absent from {lines} log lines, {} live revocations refused within {:.1} s, billhub check 0, \
         {:.1} s",
        db.backend(),
        all_routes().len(),
        run.requests,
        creds.secrets.len(),
        run.sent.len(),
        creds.live.len(),
        slowest.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("{report}");
    let _ = std::fs::remove_file(run.up.log_path());
}

billhub_store::backend_tests!(auth_matrix);
