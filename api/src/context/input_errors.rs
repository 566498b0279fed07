//! Codes for the errors async-graphql makes without one, so a client can tell its own mistake
//! from the server's by `extensions.code`, as it can against Speckle's Apollo server.
//!
//! - Arguments async-graphql cannot parse into their type (a `DateTime` that is not a time, an
//!   input object with a field of the wrong type) fail inside the generated resolver code, as
//!   `Failed to parse "…"`: `BAD_USER_INPUT`, as every other refusal of bad input has. Once per
//!   answer, over its errors, rather than per field: a hook around every field would cost every
//!   field of every request, for an error that is rare.
//! - A document the schema refuses (an unknown field, a missing argument, a value of the wrong
//!   type, an unused variable): `GRAPHQL_VALIDATION_FAILED`, Apollo's code for the same errors
//!   (clients' error links tell these apart from `INTERNAL_SERVER_ERROR` and `FORBIDDEN`). Its
//!   status stays 200, as a document that does not parse (`GRAPHQL_PARSE_FAILED`) is answered.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::{ErrorExtensionValues, Response, ServerError, ValidationResult};

/// The start of async-graphql's message for an argument it could not parse.
const PARSE_FAILED: &str = "Failed to parse \"";

pub struct InputErrors;

impl ExtensionFactory for InputErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InputErrors)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for InputErrors {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        for e in &mut response.errors {
            if e.message.starts_with(PARSE_FAILED) {
                code_unless_coded(e, "BAD_USER_INPUT");
            }
        }
        response
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for e in &mut errors {
                code_unless_coded(e, "GRAPHQL_VALIDATION_FAILED");
            }
            errors
        })
    }
}

fn code_unless_coded(e: &mut ServerError, code: &str) {
    let coded = e
        .extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some());
    if !coded {
        e.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", code);
    }
}
