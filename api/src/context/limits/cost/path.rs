//! The paths a refusal names (`stream.webhooks.items.history(limit: 500)`): built as shared
//! lists while the document is walked, so a parent extends its child's path without copying it,
//! and rendered once, for the figure that is refused.

use std::rc::Rc;

/// A path as a shared list, so that a parent extends its child's path without copying it.
/// `sized` marks a step whose page a client can shrink (it has a size argument or bound).
pub(super) struct Step {
    label: String,
    sized: bool,
    next: Option<Rc<Step>>,
}

pub(super) type Path = Option<Rc<Step>>;

pub(super) fn step(label: String, sized: bool, next: Path) -> Path {
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

pub(super) fn render(path: &Path) -> String {
    labels(path)
        .iter()
        .map(|(l, _)| *l)
        .collect::<Vec<_>>()
        .join(".")
}

/// The path down to its deepest sized step (the page to shrink); `or_first` keeps the first
/// step alone if none is sized, else the path is empty.
pub(super) fn render_to_sized(path: &Path, or_first: bool) -> String {
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
