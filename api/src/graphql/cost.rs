//! What a GraphQL document will cost, measured on the parsed document before async-graphql
//! validates or executes it, in time linear in the document's size.
//!
//! Three figures, each checked against a limit:
//! - **cost** of the operation that will run: every field, fragment spread and inline fragment
//!   counts one, *after* fragment expansion, and a field that returns a page of items multiplies
//!   everything below it by the page's size: the value of its `limit` or `first` argument (given,
//!   from a variable, or the schema's default), so any paged field added later is priced the same
//!   way without a line here. Lists that no argument sizes count as [`DEFAULT_LIST_LEN`] items,
//!   except the few in [`KNOWN_SIZES`]; a collection's `items` count once, their collection
//!   already counted the page.
//! - **depth**: fields nested inside one another, after fragment expansion (introspection
//!   excluded: its nesting follows the schema's type wrappers, and tools ask for eight levels).
//! - **size**: fields, spreads and inline fragments of every operation and every fragment
//!   definition, each expanded, without multipliers: the work validation does.
//!
//! The decision a reader may question: this runs before async-graphql's own validation rather
//! than through its complexity settings. Its complexity and depth visitors (and its recursion
//! check) walk every fragment spread again each time it is used, so a 1 KB document whose 25
//! fragments each spread the next twice makes them visit 2^25 nodes before any limit is
//! compared; and its fragment-cycle rule recurses once per fragment, so a long enough chain of
//! fragments overflows the stack. Here every fragment is measured once (memoised, in an order
//! found without recursion) and arithmetic saturates, so the fan-out is refused in microseconds.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
    Type, TypeKind, TypeSystemDefinition,
};
// async-graphql exports the parser's constant value (no variables left) as `Value`.
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};

/// Items assumed for a list whose length no argument sets (collaborators, scopes, …).
pub const DEFAULT_LIST_LEN: u64 = 25;
/// Collections whose size no argument sets but whose bound is known: `webhooks` holds at most
/// 100 per stream (one when asked by `id`), `branches` returns every branch; an event's
/// `attempts` are its first attempt and the retries of the default schedule (8), and an
/// attempt's `responseHeaders` are a handful of short name/value pairs (at most 32, capped in
/// length when stored), priced once like a collection's `items`.
pub const KNOWN_SIZES: &[(&str, u64)] = &[
    ("webhooks", 100),
    ("branches", 100),
    ("attempts", 8),
    ("responseHeaders", 1),
];
/// Fragments spreading fragments deeper than this are refused, as async-graphql refuses
/// operations nested deeper than its recursion limit.
pub const MAX_FRAGMENT_NESTING: u64 = 64;

/// What the schema says about one field: enough to price it.
#[derive(Clone, Debug)]
struct FieldInfo {
    /// The named type it returns (lists unwrapped).
    ty: String,
    is_list: bool,
    /// The default of its `limit`/`first` argument: `Some(None)` when it has one without default.
    size_default: Option<Option<u64>>,
}

/// The schema's fields by type, built once from the SDL the server exports.
#[derive(Clone, Debug, Default)]
pub struct CostModel {
    types: HashMap<String, HashMap<String, FieldInfo>>,
    query: String,
    mutation: String,
}

fn unwrap_list(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(n) => (n.to_string(), false),
        BaseType::List(inner) => (unwrap_list(inner).0, true),
    }
}

fn const_size(v: &ConstValue) -> Option<u64> {
    match v {
        ConstValue::Number(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i.max(0) as u64))
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        _ => None,
    }
}

impl CostModel {
    /// Reads the exported SDL; a type it cannot read just prices as unknown (every multiplier 1,
    /// structure still counted), which is why this returns no error.
    pub fn from_sdl(sdl: &str) -> Self {
        let mut model = Self {
            query: "Query".into(),
            mutation: "Mutation".into(),
            ..Self::default()
        };
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return model;
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(s) => {
                    if let Some(q) = &s.node.query {
                        model.query = q.node.to_string();
                    }
                    if let Some(m) = &s.node.mutation {
                        model.mutation = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(t) => {
                    let fields = match &t.node.kind {
                        TypeKind::Object(o) => &o.fields,
                        TypeKind::Interface(i) => &i.fields,
                        _ => continue,
                    };
                    let entry = model.types.entry(t.node.name.node.to_string()).or_default();
                    for f in fields {
                        let (ty, is_list) = unwrap_list(&f.node.ty.node);
                        let size_default = f
                            .node
                            .arguments
                            .iter()
                            .find(|a| matches!(a.node.name.node.as_str(), "limit" | "first"))
                            .map(|a| {
                                a.node
                                    .default_value
                                    .as_ref()
                                    .and_then(|d| const_size(&d.node))
                            });
                        entry.insert(
                            f.node.name.node.to_string(),
                            FieldInfo {
                                ty,
                                is_list,
                                size_default,
                            },
                        );
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        model
    }

    fn field(&self, ty: Option<&str>, name: &str) -> Option<&FieldInfo> {
        self.types.get(ty?)?.get(name)
    }
}

/// The figures of one document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Cost of the operation that will run (the costliest, if the document does not say which).
    pub cost: u64,
    /// Deepest field nesting of any operation.
    pub depth: u64,
    /// Expanded size of every operation and fragment definition together.
    pub size: u64,
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

/// Per-fragment results, memoised.
#[derive(Clone, Copy, Default)]
struct Figures {
    cost: u64,
    size: u64,
    depth: u64,
    nesting: u64,
}

struct Walk<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a ConstValue>,
    done: HashMap<&'a str, Figures>,
}

impl<'a> Walk<'a> {
    fn variable(&self, name: &Name) -> Option<&ConstValue> {
        self.variables
            .get(name)
            .or_else(|| self.defaults.get(name.as_str()).copied())
    }

    fn multiplier(
        &self,
        field: &async_graphql::parser::types::Field,
        info: Option<&FieldInfo>,
    ) -> u64 {
        let name = field.name.node.as_str();
        let given = field
            .arguments
            .iter()
            .find(|(n, _)| matches!(n.node.as_str(), "limit" | "first"));
        if let Some((_, v)) = given {
            // A value that is not a number is refused by validation; price it as the default.
            return v
                .node
                .clone()
                .into_const_with(|name| self.variable(&name).cloned().ok_or(()))
                .ok()
                .and_then(|c| const_size(&c))
                .unwrap_or(DEFAULT_LIST_LEN);
        }
        if let Some(default) = info.and_then(|i| i.size_default) {
            return default.unwrap_or(DEFAULT_LIST_LEN);
        }
        if let Some((_, n)) = KNOWN_SIZES.iter().find(|(k, _)| *k == name) {
            let by_id = field.arguments.iter().any(|(n, v)| {
                n.node == "id"
                    && v.node
                        .clone()
                        .into_const_with(|name| {
                            Ok::<_, ()>(self.variable(&name).cloned().unwrap_or_default())
                        })
                        .is_ok_and(|c| c != ConstValue::Null)
            });
            return if by_id { 1 } else { *n };
        }
        match info {
            Some(i)
                if i.is_list && name != "items" && !field.selection_set.node.items.is_empty() =>
            {
                DEFAULT_LIST_LEN
            }
            _ => 1,
        }
    }

    /// Figures of a selection set whose parent type is `ty`, with every fragment it spreads
    /// already in `done` (callers guarantee the order). Recursion here follows the document's
    /// own nesting, which the parser caps at 64 levels.
    fn selection_set(&self, set: &SelectionSet, ty: Option<&str>) -> Figures {
        let mut out = Figures::default();
        for item in &set.items {
            let f = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let info = self.model.field(ty, field.name.node.as_str());
                    let child =
                        self.selection_set(&field.selection_set.node, info.map(|i| i.ty.as_str()));
                    let mult = self.multiplier(field, info);
                    // Introspection nests as deep as the schema's types, not as data does
                    // (graphql-js's query asks `ofType` eight levels down): cost counts it, depth not.
                    let introspection = field.name.node.starts_with("__");
                    Figures {
                        cost: 1u64.saturating_add(mult.saturating_mul(child.cost)),
                        size: child.size.saturating_add(1),
                        depth: if introspection {
                            0
                        } else {
                            child.depth.saturating_add(1)
                        },
                        nesting: child.nesting,
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let ty = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(ty);
                    let child = self.selection_set(&inline.selection_set.node, ty);
                    Figures {
                        cost: child.cost.saturating_add(1),
                        size: child.size.saturating_add(1),
                        ..child
                    }
                }
                Selection::FragmentSpread(spread) => {
                    // An unknown fragment is refused by validation; it costs its spread only.
                    let f = self
                        .done
                        .get(spread.node.fragment_name.node.as_str())
                        .copied()
                        .unwrap_or_default();
                    Figures {
                        cost: f.cost.saturating_add(1),
                        size: f.size.saturating_add(1),
                        depth: f.depth,
                        nesting: f.nesting.saturating_add(1),
                    }
                }
            };
            out.cost = out.cost.saturating_add(f.cost);
            out.size = out.size.saturating_add(f.size);
            out.depth = out.depth.max(f.depth);
            out.nesting = out.nesting.max(f.nesting);
        }
        out
    }

    /// Measures every fragment, each after the fragments it spreads (an explicit stack, not
    /// recursion: a chain of fragments is as long as the body allows).
    fn fragments(&mut self) -> Result<(), Unmeasurable> {
        let spreads: HashMap<&'a str, Vec<&'a str>> = self
            .doc
            .fragments
            .iter()
            .map(|(name, f)| {
                let mut out = Vec::new();
                collect_spreads(&f.node.selection_set.node, &mut out);
                (name.as_str(), out)
            })
            .collect();
        let mut names: Vec<&'a str> = spreads.keys().copied().collect();
        names.sort_unstable();
        let mut in_progress: HashSet<&'a str> = HashSet::new();
        for root in names {
            if self.done.contains_key(root) {
                continue;
            }
            let mut stack: Vec<(&'a str, usize)> = vec![(root, 0)];
            in_progress.insert(root);
            while let Some((name, next)) = stack.pop() {
                let deps = spreads.get(name).map(Vec::as_slice).unwrap_or(&[]);
                if let Some(dep) = deps.get(next).copied() {
                    stack.push((name, next + 1));
                    if in_progress.contains(dep) {
                        return Err(Unmeasurable::Cycle(dep.to_owned()));
                    }
                    if spreads.contains_key(dep) && !self.done.contains_key(dep) {
                        in_progress.insert(dep);
                        stack.push((dep, 0));
                    }
                    continue;
                }
                in_progress.remove(name);
                let Some(def) = self.doc.fragments.get(name) else {
                    continue;
                };
                let ty = def.node.type_condition.node.on.node.as_str();
                let figures = self.selection_set(&def.node.selection_set.node, Some(ty));
                if figures.nesting > MAX_FRAGMENT_NESTING {
                    return Err(Unmeasurable::NestedFragments(name.to_owned()));
                }
                self.done.insert(name, figures);
            }
        }
        Ok(())
    }
}

fn collect_spreads<'a>(set: &'a SelectionSet, out: &mut Vec<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => collect_spreads(&f.node.selection_set.node, out),
            Selection::InlineFragment(i) => collect_spreads(&i.node.selection_set.node, out),
            Selection::FragmentSpread(s) => out.push(s.node.fragment_name.node.as_str()),
        }
    }
}

/// Measures `doc` as it would run with `variables`, `operation_name` choosing the operation.
pub fn measure(
    model: &CostModel,
    doc: &ExecutableDocument,
    variables: &Variables,
    operation_name: Option<&str>,
) -> Result<Measure, Unmeasurable> {
    let operations: Vec<(Option<&Name>, &Positioned<OperationDefinition>)> = match &doc.operations {
        DocumentOperations::Single(op) => vec![(None, op)],
        DocumentOperations::Multiple(ops) => ops.iter().map(|(n, op)| (Some(n), op)).collect(),
    };
    let selected = operations
        .iter()
        .find(|(n, _)| operation_name.is_some() && n.map(Name::as_str) == operation_name)
        .or_else(|| (operations.len() == 1).then(|| &operations[0]))
        .map(|(_, op)| *op);
    // Fragments are priced with the chosen operation's variable defaults; without a choice, no
    // defaults apply and unset size variables price as DEFAULT_LIST_LEN.
    let defaults = selected
        .map(|op| {
            op.node
                .variable_definitions
                .iter()
                .filter_map(|d| {
                    Some((
                        d.node.name.node.as_str(),
                        &d.node.default_value.as_ref()?.node,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut walk = Walk {
        model,
        doc,
        variables,
        defaults,
        done: HashMap::new(),
    };
    walk.fragments()?;
    let mut m = Measure {
        size: walk
            .done
            .values()
            .fold(0u64, |a, f| a.saturating_add(f.size)),
        ..Measure::default()
    };
    for (_, op) in &operations {
        let root = match op.node.ty {
            async_graphql::parser::types::OperationType::Mutation => model.mutation.as_str(),
            _ => model.query.as_str(),
        };
        let f = walk.selection_set(&op.node.selection_set.node, Some(root));
        if f.nesting > MAX_FRAGMENT_NESTING {
            return Err(Unmeasurable::NestedFragments("(operation)".to_owned()));
        }
        m.size = m.size.saturating_add(f.size);
        m.depth = m.depth.max(f.depth);
        if selected.is_none_or(|s| std::ptr::eq(s, *op)) {
            m.cost = m.cost.max(f.cost);
        }
    }
    Ok(m)
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
