//! The API's error type and the one place that maps it to GraphQL `extensions.code`.
//! Internal errors (database, bugs) are logged with their detail and returned to the client as an
//! opaque sentence: a client cannot act on a SQL error, and it may leak schema details.

use async_graphql::ErrorExtensions;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Deliberately not `Display`: async-graphql converts any `Display` type into an error without an
/// `extensions.code`, so `?` in a resolver would silently drop the code. Without it, the only way
/// out is the `From` below.
#[derive(Debug)]
pub enum Error {
    /// Not allowed: no token, a missing scope, or not the right role. Speckle's `FORBIDDEN`.
    Forbidden(String),
    /// Refused input, nothing stored. `BAD_USER_INPUT`.
    BadInput(String),
    /// The thing named does not exist; the code is Speckle's (`STREAM_NOT_FOUND`, …).
    NotFound {
        code: &'static str,
        message: String,
    },
    /// A limit on what one request may cost (answer size, server busy); the code says which.
    Limit {
        code: &'static str,
        message: String,
    },
    Db(sea_orm::DbErr),
    Internal(String),
}

impl Error {
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }

    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadInput(msg.into())
    }

    pub fn stream_not_found() -> Self {
        Self::NotFound {
            code: "STREAM_NOT_FOUND",
            message: "Stream not found".into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "FORBIDDEN",
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::NotFound { code, .. } | Self::Limit { code, .. } => code,
            Self::Db(_) | Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// What the client may see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Forbidden(m)
            | Self::BadInput(m)
            | Self::NotFound { message: m, .. }
            | Self::Limit { message: m, .. } => m.clone(),
            Self::Db(_) | Self::Internal(_) => {
                "Internal server error; the server log has the details".into()
            }
        }
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if matches!(self, Self::Db(_) | Self::Internal(_)) {
            tracing::error!(error = ?self, "request failed");
        }
        async_graphql::Error::new(self.public_message())
            .extend_with(|_, e| e.set("code", self.code()))
    }
}

/// `?` in resolvers: our errors keep their code on the way out.
impl From<Error> for async_graphql::Error {
    fn from(e: Error) -> Self {
        e.extend()
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Db(e)
    }
}
