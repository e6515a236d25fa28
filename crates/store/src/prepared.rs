//! Fixed statements kept prepared, where diesel would prepare anew on every run.
//!
//! diesel caches a connection's prepared statements, but never an `UPDATE` (its changeset may
//! skip `None` columns, so one Rust type can stand for several SQL texts) nor a `sql_query`
//! (raw SQL): each run of one parses it again, and on PostgreSQL plans it again. On a hot path
//! that is a parse per payment. (Overriding the check on a wrapper does not help: diesel asks
//! it through a reference, which walks the inner statement and finds it uncacheable.)
//!
//! A [`Fixed`] statement is SQL text with `?` where each bind goes (diesel writes `$n` on
//! PostgreSQL, `?` on SQLite; so the text holds no other `?`, not even in a literal) and its
//! binds in order: no optional columns, no lists of varying length. A count of binds that does
//! not match the placeholders is an error when the statement is built, before it is sent. diesel keeps it in the connection's cache under its SQL text and bind types.
//! `tests/prepared.rs` checks, through diesel's instrumentation, that every statement of the
//! payment paths is cached.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Nullable, Text, Timestamp};
use time::PrimitiveDateTime;

/// One bind of a [`Fixed`] statement.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bind<'a> {
    Text(&'a str),
    BigInt(i64),
    NullableBigInt(Option<i64>),
    Bool(bool),
    Timestamp(PrimitiveDateTime),
}

/// SQL text with `?` for each bind, and the binds in order; `ST` is the SQL type of the rows it
/// returns (`()` for a statement run with `execute`).
#[derive(Debug, Clone)]
pub(crate) struct Fixed<'a, ST = ()> {
    sql: &'static str,
    binds: Vec<Bind<'a>>,
    rows: PhantomData<ST>,
}

impl<'a, ST> Fixed<'a, ST> {
    pub(crate) fn new(sql: &'static str, binds: Vec<Bind<'a>>) -> Self {
        Fixed {
            sql,
            binds,
            rows: PhantomData,
        }
    }
}

impl<ST, DB> QueryFragment<DB> for Fixed<'_, ST>
where
    DB: Backend
        + HasSqlType<Text>
        + HasSqlType<BigInt>
        + HasSqlType<Nullable<BigInt>>
        + HasSqlType<Bool>
        + HasSqlType<Timestamp>,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    Option<i64>: ToSql<Nullable<BigInt>, DB>,
    bool: ToSql<Bool, DB>,
    PrimitiveDateTime: ToSql<Timestamp, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut pieces = self.sql.split('?');
        let mut binds = self.binds.iter();
        if let Some(first) = pieces.next() {
            out.push_sql(first);
        }
        for piece in pieces {
            let Some(bind) = binds.next() else {
                return Err(mismatch(self));
            };
            match bind {
                Bind::Text(v) => out.push_bind_param::<Text, str>(*v)?,
                Bind::BigInt(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Bind::NullableBigInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                Bind::Bool(v) => out.push_bind_param::<Bool, bool>(v)?,
                Bind::Timestamp(v) => out.push_bind_param::<Timestamp, _>(v)?,
            }
            out.push_sql(piece);
        }
        if binds.next().is_some() {
            return Err(mismatch(self));
        }
        Ok(())
    }
}

fn mismatch<ST>(statement: &Fixed<'_, ST>) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!(
            "{} binds for the placeholders of: {}",
            statement.binds.len(),
            statement.sql
        )
        .into(),
    )
}

impl<ST> QueryId for Fixed<'_, ST> {
    type QueryId = ();
    // No static id: diesel keys the cache by the SQL text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> Query for Fixed<'_, ST> {
    type SqlType = ST;
}

impl<ST, Conn> diesel::RunQueryDsl<Conn> for Fixed<'_, ST> {}

/// A [`Fixed`] piece of SQL used as an expression of type `ST` (a scalar subquery in a select
/// list), where `diesel::dsl::sql` would make the whole statement uncacheable.
#[derive(Debug, Clone)]
pub(crate) struct FixedExpr<'a, ST>(Fixed<'a, ST>);

impl<'a, ST> FixedExpr<'a, ST> {
    pub(crate) fn new(sql: &'static str, binds: Vec<Bind<'a>>) -> Self {
        FixedExpr(Fixed::new(sql, binds))
    }
}

impl<ST> diesel::expression::Expression for FixedExpr<'_, ST>
where
    ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
{
    type SqlType = ST;
}

impl<ST, QS> diesel::expression::SelectableExpression<QS> for FixedExpr<'_, ST> where
    Self: diesel::expression::AppearsOnTable<QS>
{
}

impl<ST, QS> diesel::expression::AppearsOnTable<QS> for FixedExpr<'_, ST> where
    Self: diesel::expression::Expression
{
}

impl<ST, GB> diesel::expression::ValidGrouping<GB> for FixedExpr<'_, ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<'a, ST, DB> QueryFragment<DB> for FixedExpr<'a, ST>
where
    DB: Backend,
    Fixed<'a, ST>: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl<ST> QueryId for FixedExpr<'_, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on a broken expectation
mod tests {
    use super::*;
    use diesel::pg::{Pg, PgQueryBuilder};
    use diesel::query_builder::QueryBuilder;
    use diesel::sqlite::{Sqlite, SqliteQueryBuilder};

    fn pg_sql(q: &Fixed<'_>) -> QueryResult<String> {
        let mut out = PgQueryBuilder::default();
        q.to_sql(&mut out, &Pg)?;
        Ok(out.finish())
    }

    #[test]
    fn binds_take_the_placeholders_in_order_on_each_backend() {
        let q = Fixed::<()>::new(
            "UPDATE t SET a = ?, b = ? WHERE id = ?",
            vec![Bind::Text("x"), Bind::Bool(true), Bind::BigInt(7)],
        );
        assert_eq!(
            pg_sql(&q).unwrap(),
            "UPDATE t SET a = $1, b = $2 WHERE id = $3"
        );
        let mut out = SqliteQueryBuilder::new();
        q.to_sql(&mut out, &Sqlite).unwrap();
        assert_eq!(out.finish(), "UPDATE t SET a = ?, b = ? WHERE id = ?");
        // It is cacheable, keyed by its text (no static id).
        assert!(q.is_safe_to_cache_prepared(&Pg).unwrap());
        assert_eq!(<Fixed<'_> as QueryId>::query_id(), None);
    }

    #[test]
    fn a_count_of_binds_that_does_not_match_is_an_error() {
        let short = Fixed::<()>::new("SELECT ? + ?", vec![Bind::BigInt(1)]);
        let long = Fixed::<()>::new("SELECT ?", vec![Bind::BigInt(1), Bind::BigInt(2)]);
        for q in [short, long] {
            let e = pg_sql(&q).unwrap_err().to_string();
            assert!(e.contains("binds for the placeholders of"), "{e}");
        }
    }
}
