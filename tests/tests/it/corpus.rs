//! The corpus of real client documents (`tests/interop/`, see its README) against the server:
//!
//! - Speckle's first web app (`tests/interop/frontend1/`, specklesystems/speckle-server
//!   `packages/frontend` at 49438f089d2321cdeb71d0a35ef07f942bd06316, the commit before the app
//!   was removed);
//! - frontend-2, today's Speckle web app (`tests/interop/frontend2/`, the same repository at
//!   51d43b91c4681a75bff8b285da7f443a4599da67);
//! - specklepy 2026.9.1 (`tests/interop/specklepy/2026.9.1/`, from its PyPI release);
//! - the GraphQL examples in our README, read from it at test time ([`readme`]).
//!
//! Every document is validated against `schema.graphql` by graphql-core, and executed against a
//! realistic stream ([`world`]: 100 webhooks, each with more history than any page the corpus
//! asks for; branches, commits and their objects) with the variables its client sends
//! ([`variables`]), twice: as written, and with `__typename` in every selection set but the
//! operation's own, as Apollo sends it. Each must be answered with data and no error, under the
//! default limits, on SQLite and (with TEST_DATABASE_URL) PostgreSQL. A few answers are also
//! checked for what the page would show ([`expect`]).

mod expect;
mod readme;
mod variables;
mod world;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use streamhooks_api::testkit::interop;

use self::variables::{Run, Who};
use self::world::World;

/// One document of the corpus, with the fragments it spreads.
pub struct Doc {
    /// `frontend1`, `frontend2`, `specklepy` or `readme`.
    pub corpus: &'static str,
    pub name: String,
    pub text: String,
    /// Variables carried by the document itself (the README's curl examples).
    pub vars: Option<Value>,
}

impl Doc {
    fn readme(name: String, text: String, vars: Option<Value>) -> Self {
        Self {
            corpus: "readme",
            name,
            text,
            vars,
        }
    }

    fn is_mutation(&self) -> bool {
        definition(&self.text).0 == "mutation"
    }
}

/// The corpora on disk: (name in this test, directory under `tests/interop/`).
const CORPORA: [(&str, &str); 3] = [
    ("frontend1", "frontend1"),
    ("frontend2", "frontend2"),
    ("specklepy", "specklepy/2026.9.1"),
];

fn interop_dir() -> PathBuf {
    interop::workspace_root().join("tests/interop")
}

/// A document's text without the lines that are only a `${fragment}` interpolation: Speckle's
/// first web app keeps them in its gql`` templates, and Apollo's gql tag replaces each with the
/// fragment's definition, which [`with_fragments`] appends from the fragment's own file.
fn read(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with("${") && t.ends_with('}'))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The kind (`query`, `mutation`, `subscription`, `fragment`) and name of a document's first
/// definition, past its `#` header; an anonymous `{ … }` is a query.
fn definition(text: &str) -> (&str, &str) {
    let body = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace);
    let mut words = body.map(|w| w.split(['(', '{']).next().unwrap_or(""));
    match words.next() {
        Some(k @ ("query" | "mutation" | "subscription" | "fragment")) => {
            (k, words.next().unwrap_or(""))
        }
        _ => ("query", ""),
    }
}

fn spreads(text: &str) -> Vec<String> {
    text.split("...")
        .skip(1)
        .map(|rest| {
            rest.trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty() && n != "on")
        .collect()
}

/// `text` with every fragment it spreads (transitively, each once) appended, as clients send it.
fn with_fragments(text: &str, fragments: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    let mut done: Vec<String> = Vec::new();
    let mut todo = spreads(text);
    while let Some(name) = todo.pop() {
        if done.contains(&name) {
            continue;
        }
        let Some((_, f)) = fragments.iter().find(|(n, _)| *n == name) else {
            panic!("fragment {name} is not in the corpus");
        };
        out.push('\n');
        out.push_str(f);
        todo.extend(spreads(f));
        done.push(name);
    }
    out
}

/// Every operation of one corpus directory.
fn load(corpus: &'static str, dir: &str) -> Vec<Doc> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(interop_dir().join(dir))
        .unwrap_or_else(|e| panic!("tests/interop/{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "graphql"))
        .collect();
    paths.sort();
    let texts: Vec<String> = paths.iter().map(|p| read(p)).collect();
    let fragments: Vec<(String, String)> = texts
        .iter()
        .filter_map(|t| match definition(t) {
            ("fragment", name) => Some((name.to_owned(), t.clone())),
            _ => None,
        })
        .collect();
    paths
        .iter()
        .zip(&texts)
        .filter(|(_, t)| definition(t).0 != "fragment")
        .map(|(p, t)| Doc {
            corpus,
            name: p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            text: with_fragments(t, &fragments),
            vars: None,
        })
        .collect()
}

pub fn documents() -> Vec<Doc> {
    let mut docs: Vec<Doc> = CORPORA.iter().flat_map(|(c, d)| load(c, d)).collect();
    docs.extend(readme::documents());
    docs
}

/// `doc` with `__typename` added to every selection set but the operation's root, as Apollo
/// Client's `addTypename` does. A `{` inside parentheses opens an input object, not a selection.
pub fn with_typename(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() * 2);
    let (mut parens, mut braces) = (0usize, 0usize);
    let (mut in_string, mut in_comment) = (false, false);
    let mut fragment = false;
    let mut word = String::new();
    for c in doc.chars() {
        out.push(c);
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '(' => parens += 1,
            ')' => parens = parens.saturating_sub(1),
            '{' if parens == 0 => {
                if braces > 0 || fragment {
                    out.push_str(" __typename");
                }
                braces += 1;
            }
            '}' if parens == 0 => braces = braces.saturating_sub(1),
            _ => {}
        }
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else if !word.is_empty() {
            if braces == 0 && parens == 0 {
                match word.as_str() {
                    "fragment" => fragment = true,
                    "query" | "mutation" | "subscription" => fragment = false,
                    _ => {}
                }
            }
            word.clear();
        }
    }
    out
}

#[test]
fn corpus_documents_are_valid_against_schema_graphql() {
    let Some(python) = interop::python_with(&["graphql"]) else {
        return;
    };
    let schema = interop::workspace_root().join("schema.graphql");
    let tmp = std::env::temp_dir().join(format!("streamhooks-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap_or_else(|e| panic!("{e}"));
    let mut extras = Vec::new();
    for (i, d) in readme::documents().iter().enumerate() {
        let p = tmp.join(format!("readme-{i}.graphql"));
        std::fs::write(&p, &d.text).unwrap_or_else(|e| panic!("{e}"));
        extras.push(p);
    }
    let bad = tmp.join("bad.graphql");
    std::fs::write(&bad, "query Bad { serverInfo { canFly } }").unwrap_or_else(|e| panic!("{e}"));
    let run = |extra: &[PathBuf]| {
        Command::new(&python)
            .arg(interop_dir().join("validate.py"))
            .arg(&schema)
            .args(CORPORA.iter().map(|(_, d)| interop_dir().join(d)))
            .args(extra)
            .output()
            .unwrap_or_else(|e| panic!("running validate.py: {e}"))
    };
    let out = run(&extras);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let refused = run(std::slice::from_ref(&bad));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents();
    let valid = stdout.lines().filter(|l| l.starts_with("valid ")).count();
    assert_eq!(valid, docs.len(), "{stdout}");
    // The validator does refuse what the schema lacks.
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("canFly"));
}

/// Sends `doc` as `who` with `vars`; the answer.
async fn send(w: &World, doc: &Doc, text: &str, run: &Run) -> Value {
    let token = match run.who {
        Who::Owner => &w.owner.token,
        Who::Other => &w.other.token,
    };
    let answer = w.server.gql(Some(token), text, run.vars.clone());
    tokio::time::timeout(Duration::from_secs(20), answer)
        .await
        .unwrap_or_else(|_| panic!("{}/{}: no answer within 20 s", doc.corpus, doc.name))
}

#[tokio::test]
async fn every_corpus_document_is_answered_with_data_on_a_realistic_stream() {
    let started = Instant::now();
    let w = World::build().await;
    let built = started.elapsed();
    let docs = documents();
    let mut failures = Vec::new();
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for doc in &docs {
        for (run, text) in [doc.text.clone(), with_typename(&doc.text)]
            .iter()
            .enumerate()
        {
            let r = match &doc.vars {
                Some(v) => {
                    let m = doc.is_mutation();
                    let vars = readme::with_world_ids(&v.to_string(), &w, m);
                    Run {
                        who: Who::Owner,
                        vars: serde_json::from_str(&vars).unwrap_or_default(),
                    }
                }
                None if doc.corpus == "readme" => Run {
                    who: Who::Owner,
                    vars: readme::variables_for(&doc.text, &w),
                },
                None => variables::for_doc(&w, doc.corpus, &doc.name, run).await,
            };
            let text = match doc.corpus {
                "readme" => readme::with_world_ids(text, &w, doc.is_mutation()),
                _ => text.clone(),
            };
            let sent = Instant::now();
            let answer = send(&w, doc, &text, &r).await;
            slowest.push((
                sent.elapsed(),
                format!("{}/{} #{run}", doc.corpus, doc.name),
            ));
            let data_fields = answer["data"]
                .as_object()
                .map_or(0, |d| d.values().filter(|v| !v.is_null()).count());
            if answer.get("errors").is_some_and(|e| !e.is_null()) || data_fields == 0 {
                let how = if run == 0 {
                    "as written"
                } else {
                    "with __typename"
                };
                failures.push(format!("{}/{} ({how}): {answer}", doc.corpus, doc.name));
                continue;
            }
            if let Err(e) = expect::check(&w, doc, &answer["data"]) {
                failures.push(format!("{}/{}: {e}", doc.corpus, doc.name));
            }
        }
    }
    let took = started.elapsed();
    w.server.shutdown().await;
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    slowest.truncate(5);
    eprintln!("corpus: slowest answers {slowest:?}");
    assert!(
        failures.is_empty(),
        "{} of {} documents were not answered with data:\n{}",
        failures.len(),
        docs.len(),
        failures
            .iter()
            .map(|f| f.chars().take(600).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "corpus: {} documents, world built in {built:?}, all answered in {took:?}",
        docs.len()
    );
}
