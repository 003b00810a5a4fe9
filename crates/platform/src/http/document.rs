//! The OpenAPI document as served: what the routes' annotations say, plus two rules that hold
//! everywhere and that no annotation repeats, so a client generated from the document never
//! sends what the server will refuse:
//!
//! - [`super::ValidJson`] refuses fields a type does not know, anywhere in a body, so every
//!   object a JSON request body can hold is documented closed (`additionalProperties: false`).
//! - Rust's unsigned and small integers are documented by their own formats (`uint32`, …),
//!   which few validators know, so each also states its range (`uint32`: 0 to 4294967295);
//!   `int32` would have claimed half a `u32`'s range.

use std::collections::BTreeSet;

use serde_json::Value;
use utoipa::openapi::OpenApi;

/// `openapi` as served: as JSON, with every object reachable from a JSON request body closed
/// and every integer format's range stated.
pub(super) fn as_served(openapi: OpenApi) -> Value {
    let mut document = serde_json::to_value(&openapi).expect("an OpenAPI document serializes");
    state_integer_ranges(&mut document);
    let mut referenced = BTreeSet::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for methods in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in methods.values_mut() {
                if let Some(schema) =
                    operation.pointer_mut("/requestBody/content/application~1json/schema")
                {
                    close(schema, &mut referenced);
                }
            }
        }
    }
    // Components refer to further components: close until no new name turns up.
    let mut done = BTreeSet::new();
    while let Some(name) = referenced.iter().find(|n| !done.contains(*n)).cloned() {
        done.insert(name.clone());
        let pointer = format!(
            "/components/schemas/{}",
            name.replace('~', "~0").replace('/', "~1")
        );
        if let Some(schema) = document.pointer_mut(&pointer) {
            close(schema, &mut referenced);
        }
    }
    document
}

/// Closes `schema` and what it nests, noting the components it refers to.
fn close(schema: &mut Value, referenced: &mut BTreeSet<String>) {
    let Some(fields) = schema.as_object_mut() else {
        return;
    };
    if let Some(name) = fields
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        referenced.insert(name.to_string());
    }
    // An object with named properties; a free-form one (`Object`, arguments of any shape)
    // stays open, as the handler takes it.
    if fields.contains_key("properties") && !fields.contains_key("additionalProperties") {
        fields.insert("additionalProperties".into(), Value::Bool(false));
    }
    for property in fields
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        close(property, referenced);
    }
    if let Some(items) = fields.get_mut("items") {
        close(items, referenced);
    }
    for alternatives in ["oneOf", "anyOf"] {
        for alternative in fields
            .get_mut(alternatives)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            close(alternative, referenced);
        }
    }
    // Parts of an `allOf` are each a slice of one object: closing a part would forbid the
    // others' properties, so they are left as they are.
}

/// Adds the range its format implies to every integer schema in `value` that states none.
/// (utoipa spells the unsigned formats `u-int32`; the document uses the common `uint32`.)
fn state_integer_ranges(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            let format = fields.get("format").and_then(Value::as_str);
            let range = match format {
                Some("int8") => Some(("int8", Value::from(i8::MIN), Value::from(i8::MAX))),
                Some("int16") => Some(("int16", Value::from(i16::MIN), Value::from(i16::MAX))),
                Some("uint8" | "u-int8") => Some(("uint8", Value::from(0), Value::from(u8::MAX))),
                Some("uint16" | "u-int16") => {
                    Some(("uint16", Value::from(0), Value::from(u16::MAX)))
                }
                Some("uint32" | "u-int32") => {
                    Some(("uint32", Value::from(0), Value::from(u32::MAX)))
                }
                Some("uint64" | "u-int64") => {
                    Some(("uint64", Value::from(0), Value::from(u64::MAX)))
                }
                _ => None,
            };
            if let Some((format, minimum, maximum)) = range {
                fields.insert("format".into(), Value::from(format));
                fields.entry("minimum").or_insert(minimum);
                fields.entry("maximum").or_insert(maximum);
            }
            fields.values_mut().for_each(state_integer_ranges);
        }
        Value::Array(items) => items.iter_mut().for_each(state_integer_ranges),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_a_body_reaches_are_closed_and_free_form_ones_stay_open() {
        let mut body = json!({
            "type": "object",
            "properties": {
                "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
                "arguments": {"type": "object"},
            }
        });
        let mut referenced = BTreeSet::new();
        close(&mut body, &mut referenced);
        assert_eq!(body["additionalProperties"], false);
        assert!(body["properties"]["arguments"]
            .get("additionalProperties")
            .is_none());
        assert_eq!(referenced, BTreeSet::from(["Step".to_string()]));
    }

    #[test]
    fn an_unsigned_format_states_its_range_and_keeps_a_tighter_one() {
        let mut schema = json!({
            "offset": {"type": "integer", "format": "u-int32", "minimum": 0},
            "limit": {"type": "integer", "format": "u-int32", "minimum": 1, "maximum": 200},
        });
        state_integer_ranges(&mut schema);
        assert_eq!(
            schema["offset"],
            json!({"type": "integer", "format": "uint32", "minimum": 0, "maximum": 4294967295u32})
        );
        assert_eq!(schema["limit"]["maximum"], 200);
    }
}
