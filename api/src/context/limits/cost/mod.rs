//! What a GraphQL document will cost, measured on the parsed document before async-graphql
//! validates or executes it, in time linear in the document's size. A query is priced by what
//! its answer can hold, not by how it is written; three figures, each against its own limit:
//! - **nodes**: the values the answer can hold, in the spirit of GitHub's node limit. Every
//!   field's value is one node (an object, a scalar, a list of scalars), and a list of objects
//!   holds as many as its page: the `limit`/`first` argument of the field or of the collection
//!   it belongs to (given, from a variable, or the schema's default), or, where no argument sets
//!   it, what the list can really hold ([`KNOWN_SIZES`]: a stream has at most 100 webhooks), else
//!   [`DEFAULT_LIST_LEN`]. So `stream.webhooks.items.history(limit: 50)` with three fields per
//!   event is 100 webhooks × 50 events × 4 nodes, about 20,000, and any paged field added later
//!   is priced the same way without a line here.
//! - **size**: fields, spreads and inline fragments of every operation and every fragment
//!   definition, each expanded, without multipliers: the work validation does, and what stops a
//!   kilobyte of fragments that each spread the next twice.
//! - **depth**: fields nested inside one another, after fragment expansion (introspection
//!   excluded: its nesting follows the schema's type wrappers, and tools ask for eight levels).
//!
//! With each figure goes the place a refusal names: the path to the page whose size to shrink
//! (`stream.webhooks.items.history(limit: 500)`), to the spread that expands most, to the
//! deepest field. What the answer's data weighs is not priced here: the answer budget
//! ([`super::budget`]) charges stored sizes before history is loaded.
//!
//! The decision a reader may question: this runs before async-graphql's own validation rather
//! than through its complexity settings. Its complexity and depth visitors (and its recursion
//! check) walk every fragment spread again each time it is used, so a 1 KB document whose 25
//! fragments each spread the next twice makes them visit 2^25 nodes before any limit is
//! compared; and its fragment-cycle rule recurses once per fragment, so a long enough chain of
//! fragments overflows the stack. Here every fragment is measured once (memoised, in an order
//! found without recursion) and arithmetic saturates, so the fan-out is refused in microseconds.
//! A fragment's nodes are kept as `fixed + per_page × page`, since a fragment spread inside a
//! collection (`webhooks { ...Fields }`) passes the collection's page to the lists in it.
//!
//! Here by job: `schema` reads the SDL, `walk` adds up a document's `figures`, and `path`
//! renders the places a refusal names.

mod figures;
mod path;
mod schema;
mod walk;

pub use figures::{Measure, Unmeasurable, DEFAULT_LIST_LEN, KNOWN_SIZES, MAX_FRAGMENT_NESTING};
pub use schema::CostModel;
pub use walk::measure;

#[cfg(test)]
mod tests;
