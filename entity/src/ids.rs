//! Typed ids: one newtype per kind of row, for the signatures of the functions that change rows,
//! where a stream id passed as a user id (both ten hex characters) would compile and be a bug.
//!
//! The decision a reader may question: the models' columns stay `String` (and `i64` for an
//! event). The newtypes live in signatures, not in rows, so sea-orm's derives, the queries built on
//! the columns and the GraphQL types built from the rows need no conversions, and a caller wraps an
//! id once, where it enters (a resolver's input, a request's path). They are here, in the crate
//! every other one depends on, so the API and the dispatcher can name the same types.

use std::fmt;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

text_id!(
    /// A stream's id (a project's: the same row).
    StreamId
);
text_id!(
    /// A user's id.
    UserId
);
text_id!(
    /// A branch's id (a model's: the same row).
    BranchId
);
text_id!(
    /// A commit's id (a version's: the same row).
    CommitId
);
text_id!(
    /// A webhook's id (`webhooks_config.id`).
    WebhookId
);

/// A webhook event's id (`webhooks_events.id`): a number the database hands out in insertion
/// order, sent to receivers as the delivery id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(i64);

impl EventId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<i64> for EventId {
    fn from(id: i64) -> Self {
        Self(id)
    }
}

#[cfg(test)]
mod tests {
    use super::{EventId, StreamId};

    #[test]
    fn ids_show_as_what_they_wrap() {
        let s = StreamId::from("a1b2c3d4e5");
        assert_eq!(s.as_str(), "a1b2c3d4e5");
        assert_eq!(s.to_string(), "a1b2c3d4e5");
        assert_eq!(String::from(s), "a1b2c3d4e5");
        assert_eq!(EventId::from(42).to_string(), "42");
    }
}
