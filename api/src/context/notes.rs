//! Notes a resolver adds to the answer's top-level `extensions`, for what a field's own type
//! cannot say: `webhookRedeliverFailed` returns Speckle-style `Int!`, and whether more failed
//! events remain than one call takes is a note beside it. An extension per request (its factory
//! makes one for each) puts a fresh [`Notes`] in the request's data before it runs and moves
//! whatever was noted into `extensions` once it has run; each note is keyed by a name and carries
//! the path of the field that made it, so aliases of one field each get theirs.
//!
//! Why not an error entry beside the data: clients (the console among them) treat any entry in
//! `errors` as a failure, and queuing 10,000 events is not one.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::{Context, Name, Request, Response, ServerResult, Value};

/// The notes of one request: by name, in the order they were made.
#[derive(Default)]
pub struct Notes(Mutex<IndexMap<&'static str, Vec<Value>>>);

/// Adds `note` (an object) under `extensions.<name>`, a list, with the field's `path` added.
pub fn note(ctx: &Context<'_>, name: &'static str, note: IndexMap<Name, Value>) {
    let Some(notes) = ctx.data_opt::<Arc<Notes>>() else {
        return;
    };
    let path: Vec<Value> = ctx
        .path_node
        .map(|p| p.to_string_vec())
        .unwrap_or_default()
        .into_iter()
        .map(Value::String)
        .collect();
    let mut object = IndexMap::with_capacity(note.len() + 1);
    object.insert(Name::new("path"), Value::List(path));
    object.extend(note);
    if let Ok(mut all) = notes.0.lock() {
        all.entry(name).or_default().push(Value::Object(object));
    }
}

/// Installs [`Notes`] into every request and its notes into every answer.
pub struct NotesExtension;

impl ExtensionFactory for NotesExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest(Arc::new(Notes::default())))
    }
}

struct PerRequest(Arc<Notes>);

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(self.0.clone())).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let noted = self
            .0
             .0
            .lock()
            .map(|mut all| std::mem::take(&mut *all))
            .unwrap_or_default();
        for (name, list) in noted {
            response = response.extension(name, Value::List(list));
        }
        response
    }
}
