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

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection,
    SelectionSet, Type, TypeKind, TypeSystemDefinition,
};
// async-graphql exports the parser's constant value (no variables left) as `Value`.
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};

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
    /// Reads the exported SDL; a type it cannot read just prices as unknown (every list one
    /// item, structure still counted), which is why this returns no error.
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

/// A path as a shared list, so that a parent extends its child's path without copying it.
/// `sized` marks a step whose page a client can shrink (it has a size argument or bound).
struct Step {
    label: String,
    sized: bool,
    next: Option<Rc<Step>>,
}

type Path = Option<Rc<Step>>;

fn step(label: String, sized: bool, next: Path) -> Path {
    Some(Rc::new(Step { label, sized, next }))
}

fn labels(path: &Path) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut at = path.as_ref();
    while let Some(s) = at {
        out.push((s.label.as_str(), s.sized));
        at = s.next.as_ref();
    }
    out
}

fn render(path: &Path) -> String {
    labels(path)
        .iter()
        .map(|(l, _)| *l)
        .collect::<Vec<_>>()
        .join(".")
}

/// The path down to its deepest sized step (the page to shrink); `or_first` keeps the first
/// step alone if none is sized, else the path is empty.
fn render_to_sized(path: &Path, or_first: bool) -> String {
    let all = labels(path);
    let end = match all.iter().rposition(|(_, sized)| *sized) {
        Some(i) => i + 1,
        None if or_first => 1,
        None => 0,
    };
    all.iter()
        .take(end)
        .map(|(l, _)| *l)
        .collect::<Vec<_>>()
        .join(".")
}

/// Figures of a selection set (or fragment), per object it is selected on, memoised per
/// fragment.
#[derive(Clone, Default)]
struct Figures {
    /// Nodes: `fixed + per_page × page`, where `page` is the page size the enclosing collection
    /// passes to its lists of objects (DEFAULT_LIST_LEN where none does).
    fixed: u64,
    per_page: u64,
    size: u64,
    depth: u64,
    nesting: u64,
    /// The heaviest branch's path down to its deepest sized list.
    heavy: Path,
    /// The path to the deepest field, and to where most of the size comes from (its fragment
    /// spreads marked sized: expansion is what makes a document large).
    deep: Path,
    bulky: Path,
}

impl Figures {
    fn nodes(&self, page: Option<u64>) -> u64 {
        self.fixed.saturating_add(
            self.per_page
                .saturating_mul(page.unwrap_or(DEFAULT_LIST_LEN)),
        )
    }
}

/// How many of a field's value one parent object holds.
enum Count {
    /// A known number: 1 for anything but a list, the page a list's own argument sets, …
    Fixed(u64),
    /// As many as the enclosing collection's page (a collection's `items`).
    Page,
}

/// How a field is sized: its count, the page it passes to its own lists, and, if a client can
/// shrink it, how a refusal names it (`history(limit: 500)`, `webhooks`).
struct Sizing {
    count: Count,
    page: Option<u64>,
    label: Option<String>,
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

    /// The value of argument `arg` as it will run, and how it was written.
    fn argument(&self, field: &Field, arg: &str) -> Option<(Option<ConstValue>, String)> {
        let (_, v) = field.arguments.iter().find(|(n, _)| n.node == arg)?;
        let value = v
            .node
            .clone()
            .into_const_with(|name| self.variable(&name).cloned().ok_or(()))
            .ok();
        // The parser's value prints a variable as `$name`; show what it holds too.
        let mut written = v.node.to_string();
        if let (true, Some(c)) = (written.starts_with('$'), &value) {
            written = format!("{written} = {c}");
        }
        Some((value, written))
    }

    fn sizing(&self, field: &Field, info: Option<&FieldInfo>) -> Sizing {
        let name = field.name.node.as_str();
        let is_list = info.is_some_and(|i| i.is_list);
        let has_fields = !field.selection_set.node.items.is_empty();
        // A `limit`/`first` sizes the field itself if it is a list, else the lists it holds.
        let given = ["limit", "first"]
            .iter()
            .find_map(|a| self.argument(field, a).map(|g| (*a, g)));
        let size = match given {
            // A value that is not a number is refused by validation; price it as the default.
            Some((arg, (value, written))) => Some((
                value
                    .as_ref()
                    .and_then(const_size)
                    .unwrap_or(DEFAULT_LIST_LEN),
                Some(format!("{name}({arg}: {written})")),
            )),
            None => match info.and_then(|i| i.size_default) {
                Some(default) => {
                    let n = default.unwrap_or(DEFAULT_LIST_LEN);
                    Some((n, Some(format!("{name}(limit: {n})"))))
                }
                None => KNOWN_SIZES.iter().find(|(k, _)| *k == name).map(|(_, n)| {
                    match self.by_id(field) {
                        true => (1, None),
                        false => (*n, Some(name.to_owned())),
                    }
                }),
            },
        };
        let alias = |label: String| match &field.alias {
            Some(a) => format!("{}:{label}", a.node),
            None => label,
        };
        match size {
            Some((n, label)) if is_list => Sizing {
                count: Count::Fixed(n),
                page: None,
                label: label.map(alias),
            },
            Some((n, label)) => Sizing {
                count: Count::Fixed(1),
                page: Some(n),
                label: label.map(alias),
            },
            // A list of objects no argument sizes holds its collection's page, or the default.
            None if is_list && has_fields => Sizing {
                count: Count::Page,
                page: None,
                label: None,
            },
            None => Sizing {
                count: Count::Fixed(1),
                page: None,
                label: None,
            },
        }
    }

    /// Whether `field` asks for one item by a non-null `id`.
    fn by_id(&self, field: &Field) -> bool {
        field.arguments.iter().any(|(n, v)| {
            n.node == "id"
                && v.node
                    .clone()
                    .into_const_with(|name| {
                        Ok::<_, ()>(self.variable(&name).cloned().unwrap_or_default())
                    })
                    .is_ok_and(|c| c != ConstValue::Null)
        })
    }

    /// Figures of a selection set whose parent type is `ty`, with every fragment it spreads
    /// already in `done` (callers guarantee the order). Recursion here follows the document's
    /// own nesting, which the parser caps at 64 levels.
    fn selection_set(&self, set: &SelectionSet, ty: Option<&str>) -> Figures {
        let mut out = Figures::default();
        // The heaviest item (nodes at the default page), the deepest and the bulkiest.
        let (mut heaviest, mut bulkiest) = (0u64, 0u64);
        for item in &set.items {
            let f = match &item.node {
                Selection::Field(field) => self.field(&field.node, ty),
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str());
                    let child = self.selection_set(&inline.selection_set.node, on.or(ty));
                    let label = match on {
                        Some(t) => format!("... on {t}"),
                        None => "...".to_owned(),
                    };
                    Figures {
                        size: child.size.saturating_add(1),
                        bulky: step(label, true, child.bulky.clone()),
                        ..child
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    // An unknown fragment is refused by validation; it costs its spread only.
                    let f = self.done.get(name).cloned().unwrap_or_default();
                    Figures {
                        size: f.size.saturating_add(1),
                        nesting: f.nesting.saturating_add(1),
                        bulky: step(format!("...{name}"), true, f.bulky.clone()),
                        ..f
                    }
                }
            };
            let weight = f.nodes(None);
            if out.heavy.is_none() || weight > heaviest {
                heaviest = weight;
                out.heavy = f.heavy.clone();
            }
            if f.depth > out.depth || out.deep.is_none() {
                out.deep = f.deep.clone();
            }
            if f.size > bulkiest {
                bulkiest = f.size;
                out.bulky = f.bulky.clone();
            }
            out.fixed = out.fixed.saturating_add(f.fixed);
            out.per_page = out.per_page.saturating_add(f.per_page);
            out.size = out.size.saturating_add(f.size);
            out.depth = out.depth.max(f.depth);
            out.nesting = out.nesting.max(f.nesting);
        }
        // Unless one item holds more than half of the size, none is to blame: the path stops.
        if bulkiest.saturating_mul(2) <= out.size {
            out.bulky = None;
        }
        out
    }

    fn field(&self, field: &Field, ty: Option<&str>) -> Figures {
        let info = self.model.field(ty, field.name.node.as_str());
        let child = self.selection_set(&field.selection_set.node, info.map(|i| i.ty.as_str()));
        let Sizing { count, page, label } = self.sizing(field, info);
        let each = 1u64.saturating_add(child.nodes(page));
        let (fixed, per_page) = match count {
            Count::Fixed(n) => (n.saturating_mul(each), 0),
            Count::Page => (0, each),
        };
        let key = match &field.alias {
            Some(alias) => format!("{}:{}", alias.node, field.name.node),
            None => field.name.node.to_string(),
        };
        // Introspection nests as deep as the schema's types, not as data does (graphql-js's
        // query asks `ofType` eight levels down): nodes and size count it, depth does not.
        let introspection = field.name.node.starts_with("__");
        Figures {
            fixed,
            per_page,
            size: child.size.saturating_add(1),
            depth: if introspection {
                0
            } else {
                child.depth.saturating_add(1)
            },
            nesting: child.nesting,
            heavy: step(
                label.clone().unwrap_or_else(|| key.clone()),
                label.is_some(),
                child.heavy,
            ),
            deep: if introspection {
                None
            } else {
                step(key.clone(), false, child.deep)
            },
            bulky: step(key, false, child.bulky),
        }
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
    let mut m = Measure::default();
    // The bulkiest definition: an operation, or a fragment (counted even if unused).
    let mut bulkiest = 0u64;
    let mut names: Vec<&&str> = walk.done.keys().collect();
    names.sort_unstable();
    for name in names {
        let f = &walk.done[*name];
        m.size = m.size.saturating_add(f.size);
        if f.size > bulkiest {
            bulkiest = f.size;
            m.size_at = format!("fragment {name}");
            let at = render_to_sized(&f.bulky, false);
            if !at.is_empty() {
                m.size_at = format!("{}: {at}", m.size_at);
            }
        }
    }
    for (name, op) in &operations {
        let root = match op.node.ty {
            async_graphql::parser::types::OperationType::Mutation => model.mutation.as_str(),
            _ => model.query.as_str(),
        };
        let f = walk.selection_set(&op.node.selection_set.node, Some(root));
        if f.nesting > MAX_FRAGMENT_NESTING {
            return Err(Unmeasurable::NestedFragments("(operation)".to_owned()));
        }
        m.size = m.size.saturating_add(f.size);
        if f.size > bulkiest {
            bulkiest = f.size;
            m.size_at = match name {
                Some(n) => format!("operation {n}"),
                None => "the operation".to_owned(),
            };
            let at = render_to_sized(&f.bulky, false);
            if !at.is_empty() {
                m.size_at = format!("{}: {at}", m.size_at);
            }
        }
        if f.depth > m.depth {
            m.depth = f.depth;
            m.depth_at = render(&f.deep);
        }
        if selected.is_none_or(|s| std::ptr::eq(s, *op)) {
            let nodes = f.nodes(None);
            if nodes > m.nodes || m.nodes_at.is_empty() {
                m.nodes = m.nodes.max(nodes);
                m.nodes_at = render_to_sized(&f.heavy, true);
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
