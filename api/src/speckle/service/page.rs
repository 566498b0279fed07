//! Speckle's cursor-paged collections (`totalCount`, `cursor`, `items`): newest first, keyed on
//! (timestamp, id) rather than on an offset, so a page boundary does not shift when rows are
//! added while a client pages through. The cursor is opaque to clients (hex of `timestamp|id`);
//! a cursor this server did not give out is refused as `BAD_USER_INPUT`, never a 500.
//! `cursor` is null on the last page, so "until cursor is null" terminates.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::IntoColumnRef;
use sea_orm::{ColumnTrait, Condition};

use crate::context::error::{Error, Result};

/// The most items one page may ask for (Speckle's clients ask 25 by default, 100 at most).
pub const MAX_LIMIT: i32 = 100;

/// One page of a collection.
pub struct Page<T> {
    pub total_count: u64,
    pub cursor: Option<String>,
    pub items: Vec<T>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            total_count: self.total_count,
            cursor: self.cursor,
            items: self.items.into_iter().map(f).collect(),
        }
    }
}

/// The most branches one page of the legacy `stream.branches` may ask for: Speckle's
/// `MAX_PROJECT_MODELS_PER_PAGE` default, which its first web app relies on (`limit: 500`).
pub const MAX_BRANCHES_LIMIT: i32 = 500;

/// A page size in `0..=MAX_LIMIT` (0 asks only for `totalCount`).
pub fn check_limit(limit: i32) -> Result<u64> {
    check_limit_up_to(limit, MAX_LIMIT)
}

/// A page size in `0..=max`.
pub fn check_limit_up_to(limit: i32, max: i32) -> Result<u64> {
    if !(0..=max).contains(&limit) {
        return Err(Error::bad_input(format!(
            "limit must be between 0 and {max}, not {limit}"
        )));
    }
    Ok(limit as u64)
}

/// Where the previous page ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

pub fn encode(at: &DateTime<Utc>, id: &str) -> String {
    hex::encode(format!(
        "{}|{id}",
        at.to_rfc3339_opts(SecondsFormat::Nanos, true)
    ))
}

pub fn decode(cursor: &str) -> Result<Cursor> {
    let bad = || {
        Error::bad_input(format!(
            "The cursor {:?} is not one this server gave out; pass back the cursor of the previous page, or none for the first",
            cursor.chars().take(64).collect::<String>()
        ))
    };
    let raw = hex::decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = raw.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
    Ok(Cursor {
        at: at.with_timezone(&Utc),
        id: id.to_owned(),
    })
}

/// Rows strictly after `c` in (timestamp DESC, id DESC) order.
pub fn after<T, I>(c: &Cursor, ts: T, id: I) -> Condition
where
    T: ColumnTrait + IntoColumnRef,
    I: ColumnTrait + IntoColumnRef,
{
    Condition::any()
        .add(ts.lt(c.at))
        .add(Condition::all().add(ts.eq(c.at)).add(id.lt(c.id.clone())))
}

/// Builds a page from up to `limit + 1` rows read in order: the extra row only tells whether
/// there is a next page.
pub fn finish<T>(
    mut rows: Vec<T>,
    limit: u64,
    total_count: u64,
    key: impl Fn(&T) -> (DateTime<Utc>, String),
) -> Page<T> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let cursor = if more {
        rows.last().map(|r| {
            let (at, id) = key(r);
            encode(&at, &id)
        })
    } else {
        None
    };
    Page {
        total_count,
        cursor,
        items: rows,
    }
}

/// `%text%` for a case-insensitive LIKE, with `%`, `_` and `\` in the text taken literally.
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_with_full_precision() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T10:00:00.123456789Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let c = decode(&encode(&at, "ab12cd34ef")).ok();
        assert_eq!(
            c,
            Some(Cursor {
                at,
                id: "ab12cd34ef".into()
            })
        );
    }

    #[test]
    fn foreign_cursors_are_user_errors() {
        for c in [
            "",
            "zz",
            "00",
            &hex::encode("no-separator"),
            &hex::encode("x|y"),
        ] {
            assert!(matches!(decode(c), Err(Error::BadInput(_))), "{c:?}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("A_b%"), "%a\\_b\\%%");
    }
}
