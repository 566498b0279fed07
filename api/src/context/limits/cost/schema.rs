//! What the schema says about each field that a price needs: the type it returns, whether it
//! is a list, and the default of its `limit`/`first` argument. Read once from the SDL the server
//! exports, so a paged field added to the schema is priced without a line here.

use std::collections::HashMap;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
// async-graphql exports the parser's constant value (no variables left) as `Value`.
use async_graphql::Value as ConstValue;

/// What the schema says about one field: enough to price it.
#[derive(Clone, Debug)]
pub(super) struct FieldInfo {
    /// The named type it returns (lists unwrapped).
    pub(super) ty: String,
    pub(super) is_list: bool,
    /// The default of its `limit`/`first` argument: `Some(None)` when it has one without default.
    pub(super) size_default: Option<Option<u64>>,
}

/// The schema's fields by type, built once from the SDL the server exports.
#[derive(Clone, Debug, Default)]
pub struct CostModel {
    types: HashMap<String, HashMap<String, FieldInfo>>,
    pub(super) query: String,
    pub(super) mutation: String,
}

fn unwrap_list(ty: &Type) -> (String, bool) {
    match &ty.base {
        BaseType::Named(n) => (n.to_string(), false),
        BaseType::List(inner) => (unwrap_list(inner).0, true),
    }
}

pub(super) fn const_size(v: &ConstValue) -> Option<u64> {
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

    pub(super) fn field(&self, ty: Option<&str>, name: &str) -> Option<&FieldInfo> {
        self.types.get(ty?)?.get(name)
    }
}
