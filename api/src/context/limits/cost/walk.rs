//! The walk over a parsed document that adds up its figures: every fragment once, each after the
//! fragments it spreads (memoised, in an order found without recursion), then every operation;
//! and [`measure`], which runs it and keeps the figures and places a refusal names.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
// async-graphql exports the parser's constant value (no variables left) as `Value`.
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};

use super::figures::{
    Count, Figures, Measure, Sizing, Unmeasurable, DEFAULT_LIST_LEN, KNOWN_SIZES,
    MAX_FRAGMENT_NESTING,
};
use super::path::{render, render_to_sized, step};
use super::schema::{const_size, CostModel, FieldInfo};

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
