//! Arguments async-graphql cannot parse into their type (a `DateTime` that is not a time, an
//! input object with a field of the wrong type) fail inside the generated resolver code, as
//! `Failed to parse "…"` with no `extensions.code`. This gives those errors `BAD_USER_INPUT`, as
//! every other refusal of bad input has, so a client can tell its own mistake from the server's.
//!
//! Once per answer, over its errors, rather than per field: a hook around every field would cost
//! every field of every request, for an error that is rare.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{ErrorExtensionValues, Response};

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
            let coded = e
                .extensions
                .as_ref()
                .is_some_and(|x| x.get("code").is_some());
            if !coded && e.message.starts_with(PARSE_FAILED) {
                e.extensions
                    .get_or_insert_with(ErrorExtensionValues::default)
                    .set("code", "BAD_USER_INPUT");
            }
        }
        response
    }
}
