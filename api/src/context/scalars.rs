//! Speckle's custom scalars: `BigInt` for token lifespans (milliseconds), so clients that declare
//! `$lifespan: BigInt` validate against this schema as they do against Speckle's, and `JSONObject`
//! for free-form objects. Same names as Speckle's, because clients' documents name them.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

#[derive(Clone, Copy, Debug)]
pub struct BigInt(pub i64);

#[Scalar]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom("BigInt must be an integer")),
            Value::String(s) => s
                .parse()
                .map(BigInt)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not an integer"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// `JSONObject`, Speckle's scalar for free-form objects (e.g. `PermissionCheckResult.payload`).
#[derive(Clone, Debug, PartialEq)]
pub struct JsonObject(pub serde_json::Map<String, serde_json::Value>);

#[Scalar(name = "JSONObject")]
impl ScalarType for JsonObject {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value.into_json() {
            Ok(serde_json::Value::Object(m)) => Ok(JsonObject(m)),
            Ok(other) => Err(InputValueError::custom(format!(
                "JSONObject must be an object, not {other}"
            ))),
            Err(e) => Err(InputValueError::custom(e.to_string())),
        }
    }

    fn to_value(&self) -> Value {
        Value::from_json(serde_json::Value::Object(self.0.clone())).unwrap_or(Value::Null)
    }
}
