//! The figures a document is measured by ([`Measure`]: nodes, depth, size, each with the place a
//! refusal names), why a document cannot be measured ([`Unmeasurable`]), the sizes lists are
//! assumed to hold, and the figures of one selection set as the walk adds them up.

use super::path::Path;

/// Items assumed for a list of objects whose length nothing sets (collaborators, scopes, …).
pub const DEFAULT_LIST_LEN: u64 = 25;
/// Lists whose length no argument sets but whose bound is known: `webhooks` holds at most 100
/// per stream (one when asked by `id`), legacy `branches` returns every branch; an event's
/// `attempts` are its first attempt and the retries of the default schedule (8), and an
/// attempt's `responseHeaders` are at most 32 (capped when stored).
pub const KNOWN_SIZES: &[(&str, u64)] = &[
    ("webhooks", 100),
    ("branches", 100),
    ("attempts", 8),
    ("responseHeaders", 32),
];
/// Fragments spreading fragments deeper than this are refused, as async-graphql refuses
/// operations nested deeper than its recursion limit.
pub const MAX_FRAGMENT_NESTING: u64 = 64;

/// The figures of one document, each with the place a refusal names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Nodes the answer of the operation that will run can hold (the costliest operation, if
    /// the document does not say which).
    pub nodes: u64,
    /// Where most of those nodes are: the path down to the deepest sized list on the heaviest
    /// branch, e.g. `stream.webhooks.items.history(limit: 500)`; empty if nothing is a list.
    pub nodes_at: String,
    /// Deepest field nesting of any operation, and the path to that field.
    pub depth: u64,
    pub depth_at: String,
    /// Expanded size of every operation and fragment definition together, and where most of it
    /// comes from (fragment spreads shown as `...Name`).
    pub size: u64,
    pub size_at: String,
}

/// Why a document is refused before it is even validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unmeasurable {
    Cycle(String),
    NestedFragments(String),
}

impl std::fmt::Display for Unmeasurable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cycle(name) => write!(
                f,
                "Fragment \"{name}\" spreads itself (directly or through other fragments)"
            ),
            Self::NestedFragments(name) => write!(
                f,
                "Fragment \"{name}\" spreads fragments nested more than {MAX_FRAGMENT_NESTING} deep"
            ),
        }
    }
}

/// Figures of a selection set (or fragment), per object it is selected on, memoised per
/// fragment.
#[derive(Clone, Default)]
pub(super) struct Figures {
    /// Nodes: `fixed + per_page × page`, where `page` is the page size the enclosing collection
    /// passes to its lists of objects (DEFAULT_LIST_LEN where none does).
    pub(super) fixed: u64,
    pub(super) per_page: u64,
    pub(super) size: u64,
    pub(super) depth: u64,
    pub(super) nesting: u64,
    /// The heaviest branch's path down to its deepest sized list.
    pub(super) heavy: Path,
    /// The path to the deepest field, and to where most of the size comes from (its fragment
    /// spreads marked sized: expansion is what makes a document large).
    pub(super) deep: Path,
    pub(super) bulky: Path,
}

impl Figures {
    pub(super) fn nodes(&self, page: Option<u64>) -> u64 {
        self.fixed.saturating_add(
            self.per_page
                .saturating_mul(page.unwrap_or(DEFAULT_LIST_LEN)),
        )
    }
}

/// How many of a field's value one parent object holds.
pub(super) enum Count {
    /// A known number: 1 for anything but a list, the page a list's own argument sets, …
    Fixed(u64),
    /// As many as the enclosing collection's page (a collection's `items`).
    Page,
}

/// How a field is sized: its count, the page it passes to its own lists, and, if a client can
/// shrink it, how a refusal names it (`history(limit: 500)`, `webhooks`).
pub(super) struct Sizing {
    pub(super) count: Count,
    pub(super) page: Option<u64>,
    pub(super) label: Option<String>,
}
