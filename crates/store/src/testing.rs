//! Test databases: a fresh SQLite file, or a fresh PostgreSQL database cloned from a migrated
//! template, per test (feature `testing`). Dropping a [`TestDb`] removes the database.
//!
//! PostgreSQL is found at `BILLHUB_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); if it cannot be reached the test fails, it is
//! never skipped.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::{Backend, MasterKey, PoolOptions, Store};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDb {
    pub store: Store,
    /// The URL that opens this database (for a second process or a second store).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl std::ops::Deref for TestDb {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

fn options() -> PoolOptions {
    PoolOptions {
        max_size: 12,
        min_idle: 0,
        connection_timeout: Duration::from_secs(60),
    }
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres(),
        }
    }

    /// A fresh SQLite file in a new temporary directory.
    pub fn sqlite() -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("billhub-test-{}", crate::secrets::random_hex(8)));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        let path = dir.join("billhub.sqlite3");
        let url = format!("sqlite://{}", path.display());
        let store = match Store::open(&url, MasterKey::generate(), options(), true) {
            Ok(s) => s,
            Err(e) => panic!("cannot open test SQLite {url}: {e}"),
        };
        TestDb {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database cloned from a migrated template.
    pub fn postgres() -> TestDb {
        let admin_url = std::env::var("BILLHUB_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_string());
        let template = ensure_template(&admin_url);
        let name = format!("billhub_t_{}", crate::secrets::random_hex(8));
        let mut admin = admin_conn(&admin_url);
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
        {
            panic!("cannot create test database {name}: {e}");
        }
        let url = replace_db(&admin_url, &name);
        let store = match Store::open(&url, MasterKey::generate(), options(), true) {
            Ok(s) => s,
            Err(e) => panic!("cannot open test database {name}: {e}"),
        };
        TestDb {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// PostgreSQL: the tables of this database that have been analyzed (`last_analyze` in
    /// `pg_stat_user_tables`), in name order; SQLite: none. Panics when the query fails.
    pub fn analyzed_tables(&self) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = Text)]
            relname: String,
        }
        if self.backend() != Backend::Postgres {
            return Vec::new();
        }
        let mut conn = match PgConnection::establish(&self.url) {
            Ok(c) => c,
            Err(e) => panic!("cannot connect to {}: {e}", self.url),
        };
        match diesel::sql_query(
            "SELECT relname::text AS relname FROM pg_stat_user_tables \
             WHERE last_analyze IS NOT NULL ORDER BY relname",
        )
        .load::<Name>(&mut conn)
        {
            Ok(rows) => rows.into_iter().map(|n| n.relname).collect(),
            Err(e) => panic!("cannot read pg_stat_user_tables: {e}"),
        }
    }

    /// Runs raw SQL statements on this database, outside any repository rule: tests plant
    /// damage with it (what `billhub check` must find). Panics when the SQL fails.
    pub fn raw_sql(&self, statements: &str) {
        let mut slot = match self.store.conn() {
            Ok(s) => s,
            Err(e) => panic!("no connection for raw SQL: {e}"),
        };
        if let Err(e) = slot.conn.batch_execute(statements) {
            panic!("raw SQL failed ({e}): {statements}");
        }
    }

    /// Another store over the same database, with its own pool (another "process").
    pub fn second_store(&self) -> Store {
        match Store::open(&self.url, self.store.master_key().clone(), options(), false) {
            Ok(s) => s,
            Err(e) => panic!("cannot reopen {}: {e}", self.url),
        }
    }
}

/// A bill for a test: `billed` minor units of `currency`, exact rule, billed 2025-08-01, due
/// 2025-08-31, no items, no VA number, no collection; for the account
/// `Store::create_bill_for_account` finds or creates ([`account_input`]). Tests change the
/// fields they are about.
pub fn bill_input(
    organization_id: i64,
    currency: billhub_core::Currency,
    billed: i64,
) -> crate::NewBill {
    crate::NewBill {
        organization_id,
        account_id: 0,
        collection_id: None,
        invoice_number: None,
        ref1: String::new(),
        ref2: String::new(),
        name: "Bill".into(),
        description: String::new(),
        currency,
        billed,
        items: Vec::new(),
        bill_date: time::macros::date!(2025 - 08 - 01),
        due_date: Some(time::macros::date!(2025 - 08 - 31)),
        valid_until: None,
        rule: billhub_core::PaymentRule::Exact,
        source: "test".into(),
        extra: "{}".into(),
        va_numbers: Vec::new(),
    }
}

/// An account for a test: its code, named "Payer".
pub fn account_input(code: &str) -> crate::AccountInput {
    crate::AccountInput {
        code: code.into(),
        name: "Payer".into(),
        ..Default::default()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

fn admin_conn(url: &str) -> PgConnection {
    match PgConnection::establish(url) {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {} ({e}); set BILLHUB_TEST_POSTGRES_URL or run .ci/run",
            crate::pool::redact(url)
        ),
    }
}

/// The URL with its database name replaced.
fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

/// Creates (once per migration content) a migrated template database and returns its name.
fn ensure_template(admin_url: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    let mut files: Vec<PathBuf> = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut all = String::new();
    for f in &files {
        all.push_str(&f.display().to_string());
        all.push_str(&std::fs::read_to_string(f).unwrap_or_default());
    }
    let hash = &billhub_core::signature::sha256_hex(all.as_bytes())[..12];
    let template = format!("billhub_tpl_{hash}");
    let mut admin = admin_conn(admin_url);
    if let Err(e) = admin.batch_execute("SELECT pg_advisory_lock(724201)") {
        panic!("advisory lock: {e}");
    }
    let exists: Vec<Name> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(&template)
        .load(&mut admin)
        .unwrap_or_default();
    if !exists.iter().any(|n| n.datname == template) {
        let building = format!("{template}_build");
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"));
        if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {building}")) {
            panic!("cannot create template: {e}");
        }
        {
            let store = match Store::open(
                &replace_db(admin_url, &building),
                MasterKey::generate(),
                PoolOptions {
                    max_size: 1,
                    min_idle: 0,
                    connection_timeout: Duration::from_secs(30),
                },
                true,
            ) {
                Ok(s) => s,
                Err(e) => panic!("cannot migrate template: {e}"),
            };
            drop(store);
        }
        if let Err(e) =
            admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
        {
            panic!("cannot finish template: {e}");
        }
    }
    let _ = admin.batch_execute("SELECT pg_advisory_unlock(724201)");
    template
}

fn collect(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Runs a test body once per backend, in modules named after the backend so the test output
/// names it: `store_suite!(my_test);` makes `sqlite::my_test` and `postgres::my_test`, each
/// calling `my_test(TestDb)` with a fresh database.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::testing::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::testing::TestDb::postgres());
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_names() {
        assert_eq!(
            super::replace_db("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(super::replace_db("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
