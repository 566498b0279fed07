//! Target selection: what an event on one stream by one user fans out to ([`Targets`]), read
//! in one statement that the API's batch ingest also builds its own form of ([`targets_columns`],
//! [`targets_from`]). Read at every event, never cached: a webhook changed or disabled a moment
//! ago takes effect at the next event, in every process.

use std::sync::OnceLock;

use entity::{stream, user, webhook_config};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    Statement,
};

use crate::core::sql;

/// What an event on one stream by one user fans out to, read in one statement: the stream's
/// enabled webhooks, the stream and the user. Read at every event, never cached, so a webhook
/// changed or disabled a moment ago takes effect at the next event, in every process.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub hooks: Vec<webhook_config::Model>,
    pub stream: Option<stream::Model>,
    pub user: Option<user::Model>,
}

/// `alias.col AS alias_col, …` for every column of `E`, to read it back with
/// `E::Model::from_query_result(row, "alias_")`.
pub fn select_list<E: EntityTrait>(alias: &str) -> String {
    E::Column::iter()
        .map(|c| format!("{alias}.{0} AS {alias}_{0}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the [`Targets`] of events on `stream_id` by `user_id`.
pub async fn targets<C: ConnectionTrait>(
    db: &C,
    stream_id: &str,
    user_id: &str,
) -> Result<Targets, DbErr> {
    let stmt = targets_statement(db.get_database_backend(), stream_id, user_id);
    targets_from(&db.query_all(stmt).await?)
}

/// The columns [`targets_from`] reads: the webhook's as `w_…`, the stream's as `s_…`, the
/// user's as `u_…`, for a statement that joins them under those aliases.
pub fn targets_columns() -> &'static str {
    static COLUMNS: OnceLock<String> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        [
            select_list::<webhook_config::Entity>("w"),
            select_list::<stream::Entity>("s"),
            select_list::<user::Entity>("u"),
        ]
        .join(", ")
    })
}

/// The statement of [`targets`]; read its rows with [`targets_from`].
fn targets_statement(backend: DbBackend, stream_id: &str, user_id: &str) -> Statement {
    let m = |n| sql::mark(backend, n);
    Statement::from_sql_and_values(
        backend,
        format!(
            "SELECT {} FROM (SELECT 1 AS one) o \
             LEFT JOIN streams s ON s.id = {} \
             LEFT JOIN users u ON u.id = {} \
             LEFT JOIN webhooks_config w ON w.stream_id = {} AND w.enabled = {}",
            targets_columns(),
            m(1),
            m(2),
            m(3),
            m(4)
        ),
        [
            stream_id.into(),
            user_id.into(),
            stream_id.into(),
            true.into(),
        ],
    )
}

/// The [`Targets`] in the rows of a statement selecting [`targets_columns`] (one row per
/// webhook, or one row with the webhook's columns null).
pub fn targets_from(rows: &[sea_orm::QueryResult]) -> Result<Targets, DbErr> {
    let mut t = Targets::default();
    for (i, row) in rows.iter().enumerate() {
        if i == 0 {
            if row.try_get::<Option<String>>("", "s_id")?.is_some() {
                t.stream = Some(stream::Model::from_query_result(row, "s_")?);
            }
            if row.try_get::<Option<String>>("", "u_id")?.is_some() {
                t.user = Some(user::Model::from_query_result(row, "u_")?);
            }
        }
        if row.try_get::<Option<String>>("", "w_id")?.is_some() {
            t.hooks
                .push(webhook_config::Model::from_query_result(row, "w_")?);
        }
    }
    Ok(t)
}
