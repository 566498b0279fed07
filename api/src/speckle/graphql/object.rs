//! Speckle's `Object` type, `stream.object(id)` and `project.object(id)`: one object of the
//! project as the object API stored it (`POST /objects/{projectId}`), with `speckleType`,
//! `totalChildrenCount` and `data` read from its JSON. The caller was allowed to read the project
//! by the field that led here.
//!
//! The decision a reader may question: the object's stored size is charged to the request's
//! answer budget *before* its text is loaded, since the whole text is in memory to answer any of
//! its fields, and an object may be as large as an upload (MAX_OBJECT_UPLOAD_BYTES), far beyond
//! what one GraphQL answer may hold. `data`'s strings are then counted again as the answer is
//! built, so the budget errs on the side of refusing.

use std::sync::Arc;

use async_graphql::{Context, SimpleObject};
use chrono::{DateTime, Utc};
use entity::object;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::context::error::Result;
use crate::context::limits::budget::Budget;
use crate::context::resolver::state;
use crate::context::scalars::JsonObject;
use crate::context::validate;

#[derive(SimpleObject)]
#[graphql(name = "Object")]
pub struct SpeckleObject {
    id: String,
    speckle_type: Option<String>,
    created_at: Option<DateTime<Utc>>,
    total_children_count: Option<i32>,
    /// The whole object, as uploaded.
    data: Option<JsonObject>,
    /// Always 0: this server has no comments.
    comment_count: i32,
}

/// The object `id` of the project `stream_id`, or null if the project does not hold it.
pub(crate) async fn find(
    ctx: &Context<'_>,
    stream_id: &str,
    id: &str,
) -> Result<Option<SpeckleObject>> {
    validate::id(id, "object id")?;
    let db = &state(ctx).db;
    let of_it = || {
        object::Entity::find()
            .filter(object::Column::StreamId.eq(stream_id))
            .filter(object::Column::Id.eq(id))
    };
    let size: Option<i32> = of_it()
        .select_only()
        .expr(Func::char_length(Expr::col(object::Column::Data)))
        .into_tuple()
        .one(db)
        .await?;
    let Some(size) = size else {
        return Ok(None);
    };
    if let Some(budget) = ctx.data_opt::<Arc<Budget>>() {
        budget
            .charge(usize::try_from(size).unwrap_or(usize::MAX), || {
                crate::context::limits::budget::field_path(ctx)
            })
            .map_err(|o| budget.refusal(o))?;
    }
    let Some(row) = of_it().one(db).await? else {
        return Ok(None);
    };
    // Stored objects were checked to be JSON objects on upload; anything else reads as no data.
    let data = match serde_json::from_str::<serde_json::Value>(&row.data) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    };
    let field = |name: &str| data.as_ref().and_then(|m| m.get(name));
    Ok(Some(SpeckleObject {
        speckle_type: field("speckle_type")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        total_children_count: field("totalChildrenCount")
            .and_then(serde_json::Value::as_i64)
            .and_then(|n| i32::try_from(n).ok()),
        created_at: Some(row.created_at),
        comment_count: 0,
        id: row.id,
        data: data.map(JsonObject),
    }))
}
