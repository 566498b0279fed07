//! Helpers for the multi-row statements of the hot path (`INSERT … VALUES (…), (…)`,
//! `UPDATE … FROM (VALUES …)`). Two choices a reader may question:
//! - SQLite gets anonymous `?` placeholders and PostgreSQL `$n`: with numbered ones sqlx asks
//!   SQLite for every parameter's name, a linear search each, which makes a 7,000-parameter
//!   statement quadratic (measured: 40% of the dispatcher's CPU).
//! - Rows go in chunks whose sizes are powers of two: sqlx keeps one prepared statement per SQL
//!   text and connection, so with one text per row count hundreds of large statements pile up
//!   (measured: 60 MB while draining a million events); powers of two cap that at nine texts per
//!   statement.
//!
//! Also the two shapes a batch of rows takes in the statements that change rows by key (the
//! result statements, and the end of a lease): a `WITH v(…) AS (VALUES …)` on SQLite
//! ([`values_cte`]), one JSON parameter on PostgreSQL ([`pg`]).
//!
//! And [`db_err`], for the statements of the hot path that go through sqlx directly.

use sea_orm::{DatabaseBackend, DbErr, RuntimeErr, Statement, Value};
use serde::Serialize;

/// A sqlx error as the sea-orm error the stores return.
pub fn db_err(e: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e))
}

/// The `n`th placeholder (1-based): `$n` on PostgreSQL, `?` on SQLite.
pub fn mark(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// `(…), (…)` for `rows` rows of `cols` parameters, numbered from `first` on PostgreSQL.
pub fn values(backend: DatabaseBackend, rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    let mut n = first;
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                DatabaseBackend::Postgres => {
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push('?'),
            }
            n += 1;
        }
        out.push(')');
    }
    out
}

/// A PostgreSQL array literal (`{"a","b",NULL}`): every element quoted, `\\` and `"` escaped,
/// `None` written as a bare NULL. For arrays that travel as text: the claim's left-out webhooks,
/// and the EXPLAIN form of statements whose arrays are otherwise bound in binary.
pub fn pg_array_literal<I, S>(items: I) -> String
where
    I: IntoIterator<Item = Option<S>>,
    S: AsRef<str>,
{
    let parts: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Some(s) => format!(
                "\"{}\"",
                s.as_ref().replace('\\', "\\\\").replace('"', "\\\"")
            ),
            None => "NULL".to_owned(),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Splits `items` into runs of power-of-two length, none longer than `max` (itself a power of
/// two), largest first.
pub fn pow2_chunks<T>(items: &[T], max: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let n = prev_power_of_two(rest.len()).min(max.max(1));
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}

fn prev_power_of_two(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// `column` in a list of text ids passed as the one parameter `$n`, so the statement's text is the
/// same whatever the list's length and is prepared and planned once: a `text[]` on PostgreSQL, a
/// JSON array read by `json_each` on SQLite. With one parameter per id, a list whose length changes
/// from call to call (the webhooks of a claim or of a result batch, spread over hundreds of
/// webhooks) is a new statement almost every time, parsed and planned again (`streamhooks-bench
/// --only spread`). Returns the condition and the parameter.
pub fn text_in(backend: DatabaseBackend, column: &str, n: usize, ids: &[&str]) -> (String, Value) {
    match backend {
        DatabaseBackend::Postgres => (
            format!("{column} = ANY(CAST(${n} AS TEXT[]))"),
            pg_array_literal(ids.iter().map(Some)).into(),
        ),
        _ => (
            format!("{column} IN (SELECT value FROM json_each(${n}))"),
            json_text(ids).into(),
        ),
    }
}

/// `rows` as a JSON array. Serialising plain numbers, strings and timestamps cannot fail; an
/// empty array would only make the statement do nothing.
pub fn json_text<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".into())
}

/// A PostgreSQL statement whose `$1` is `rows` as a JSON array and, if `ids` is not empty, `$2`
/// their ids as a `bigint[]` literal.
pub fn pg<T: Serialize>(sql: &str, rows: &[T], ids: impl Iterator<Item = i64>) -> Statement {
    let mut values: Vec<Value> = vec![json_text(rows).into()];
    let ids = id_array(ids);
    if ids != "{}" {
        values.push(ids.into());
    }
    Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
}

/// `ids` as a PostgreSQL `bigint[]` literal.
fn id_array(ids: impl Iterator<Item = i64>) -> String {
    let ids: Vec<String> = ids.map(|i| i.to_string()).collect();
    format!("{{{}}}", ids.join(","))
}

/// `WITH v(cols) AS (VALUES …)` for `rows`, padded to a power of two with `pad` rows (ids that
/// match nothing), and the parameters in order.
pub fn values_cte(
    backend: DatabaseBackend,
    cols: &str,
    rows: Vec<Vec<Value>>,
    pad: &[Value],
) -> (String, Vec<Value>) {
    let n = rows.len().next_power_of_two();
    let width = pad.len();
    let mut values: Vec<Value> = Vec::with_capacity(n * width);
    for r in rows {
        values.extend(r);
    }
    while values.len() < n * width {
        values.extend_from_slice(pad);
    }
    let sql = format!(
        "WITH v({cols}) AS (VALUES {}) ",
        self::values(backend, n, width, 1)
    );
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_chunks() {
        assert_eq!(
            values(DatabaseBackend::Postgres, 2, 2, 3),
            "($3, $4), ($5, $6)"
        );
        assert_eq!(values(DatabaseBackend::Sqlite, 1, 3, 1), "(?, ?, ?)");
        let v: Vec<u32> = (0..100).collect();
        let sizes: Vec<usize> = pow2_chunks(&v, 256).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![64, 32, 4]);
        let sizes: Vec<usize> = pow2_chunks(&v, 16).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, vec![16, 16, 16, 16, 16, 16, 4]);
        assert!(pow2_chunks::<u32>(&[], 8).is_empty());
        assert_eq!(pg_array_literal([Some("a"), None]), r#"{"a",NULL}"#);
    }
}
