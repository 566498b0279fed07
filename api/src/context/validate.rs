//! The one validation layer for text a user sends that reaches the database: ids and lookup
//! arguments, names, descriptions, messages, URLs, list lengths, event ids. The service functions
//! (`speckle::service`, `webhooks`) call it, so every API generation that reaches them (Speckle's
//! legacy mutations, today's `projectMutations`, the ingest endpoint) refuses the same input with
//! the same sentence, on SQLite and PostgreSQL alike.
//!
//! The decision a reader may question: U+0000 is refused everywhere, also in lookups that could
//! simply find nothing. PostgreSQL rejects it in any text parameter with an error that is not
//! about the user's input, so the only way to keep it from ever becoming an internal error is to
//! stop it before a query is built. Other control characters are stored as given (names and
//! descriptions may hold newlines and tabs), except in URLs, where they are never meaningful and
//! URL parsers silently drop them: what is stored would not be what is called.

use crate::context::error::{Error, Result};

/// Ids and lookup arguments (stream, branch, commit, webhook, user ids): ours are 10 characters,
/// Speckle's object ids 32; anything this long is not an id.
pub const MAX_ID_LEN: usize = 256;
/// Stream, branch and token names, user names.
pub const MAX_NAME_LEN: usize = 512;
/// Stream and branch descriptions, commit messages (also `commitReceive`'s).
pub const MAX_DESCRIPTION_LEN: usize = 65_536;
/// `sourceApplication` ("Rhino", "Revit 2024", …) and similar short labels.
pub const MAX_LABEL_LEN: usize = 256;
/// `activityMessage` of an ingested event.
pub const MAX_ACTIVITY_MESSAGE_LEN: usize = 4_096;
/// A commit's `parents`: a merge has two; Speckle clients send one or none.
pub const MAX_PARENTS: usize = 100;
/// Lists of names chosen from a short fixed set (triggers, scopes): generous, duplicates included.
pub const MAX_CHOICES: usize = 64;
/// Webhook URLs, as Speckle limits them.
pub const MAX_URL_LEN: usize = 2048;
/// Characters of a refused value quoted back in an error message.
const SHOWN_LEN: usize = 64;

/// `value` quoted for an error message, cut short so a refusal never echoes a huge input.
pub fn shown(value: &str) -> String {
    if value.chars().count() <= SHOWN_LEN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN_LEN).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

fn no_nul(value: &str, what: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::bad_input(format!(
            "The {what} must not contain NUL (U+0000) characters"
        )));
    }
    Ok(())
}

/// Free text (descriptions, messages, labels): no U+0000, at most `max` characters.
pub fn text(value: &str, what: &str, max: usize) -> Result<()> {
    no_nul(value, what)?;
    let n = value.chars().count();
    if n > max {
        return Err(Error::bad_input(format!(
            "The {what} is too long ({n} characters; the limit is {max})"
        )));
    }
    Ok(())
}

/// A name: like [`text`], and not blank.
pub fn name(value: &str, what: &str) -> Result<()> {
    text(value, what, MAX_NAME_LEN)?;
    if value.trim().is_empty() {
        return Err(Error::bad_input(format!(
            "The {what} must not be empty (1 to {MAX_NAME_LEN} characters)"
        )));
    }
    Ok(())
}

/// A stream or branch description, or a commit message.
pub fn description(value: &str, what: &str) -> Result<()> {
    text(value, what, MAX_DESCRIPTION_LEN)
}

/// An id used to look something up or to refer to it. An id that cannot exist is refused rather
/// than looked up, so the database never sees U+0000 and a 300,000-character "id" costs nothing.
pub fn id(value: &str, what: &str) -> Result<()> {
    no_nul(value, what)?;
    if value.len() > MAX_ID_LEN {
        return Err(Error::bad_input(format!(
            "The {what} is too long to be an id ({} bytes; ids have at most {MAX_ID_LEN})",
            value.len()
        )));
    }
    Ok(())
}

/// A list a user sends: at most `max` entries.
pub fn list<T>(items: &[T], what: &str, max: usize) -> Result<()> {
    if items.len() > max {
        return Err(Error::bad_input(format!(
            "Too many {what} ({}; the limit is {max})",
            items.len()
        )));
    }
    Ok(())
}

/// The text checks of a URL, before it is parsed: at most [`MAX_URL_LEN`] characters and no
/// control characters anywhere (the WHATWG parser drops TAB, CR and LF inside a URL, so the
/// string stored would differ from the address called).
pub fn url_text(value: &str, what: &str) -> Result<()> {
    let n = value.chars().count();
    if n > MAX_URL_LEN {
        return Err(Error::bad_input(format!(
            "The {what} is too long ({n} characters; the limit is {MAX_URL_LEN})"
        )));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Error::bad_input(format!(
            "The {what} must not contain control characters (found U+{:04X}); \
             percent-encode them if they are really part of the address",
            c as u32
        )));
    }
    Ok(())
}

/// A webhook event id, as `history` returns it: decimal digits only. `" 93 "`, `"+93"`, `"0x5d"`
/// and `"93.0"` are refused rather than read as 93, so one event has exactly one spelling.
pub fn event_id(value: &str) -> Result<i64> {
    let refused = || {
        Error::bad_input(format!(
            "{} is not an event id: event ids are positive whole numbers written with digits only",
            shown(value)
        ))
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    match value.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_have_one_spelling() {
        assert_eq!(event_id("93").ok(), Some(93));
        for bad in [
            " 93 ",
            "+93",
            "-93",
            "0",
            "",
            "9".repeat(40).as_str(),
            "93\u{0}",
            "٩٣",
        ] {
            assert!(event_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn urls_refuse_control_characters_but_keep_unicode() {
        assert!(url_text("https://example.com/ü/🌻", "URL").is_ok());
        for bad in [
            "https://e.com/\r\nX: y",
            "https://e.com/\t",
            "https://e.com/\0",
            "https://e.com/\u{85}",
        ] {
            assert!(url_text(bad, "URL").is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn shown_values_are_cut_short() {
        let long = "x".repeat(300_000);
        assert!(shown(&long).len() < 100);
        assert_eq!(shown("ab"), "\"ab\"");
    }
}
