//! Every JSON operation of the OpenAPI document, called with inputs a careless or hostile client
//! might send: each must answer a 4xx problem or succeed, never a 5xx. The one 5xx allowed is a
//! 503 that names what this deployment lacks (here, with the local models off, a chat model):
//! that is the server's state, not the input's fault. The inputs are derived
//! from each operation's own schema (a plausible body, then each field in turn swapped for every
//! wrong kind of value or dropped) plus shapes no schema expects, with path parameters that are
//! not ids at all.

use serde_json::{json, Map, Value};

use super::common::Miyagi;

/// Values that are wrong for most fields: wrong types, extremes, odd text.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(-9_223_372_036_854_775_808i64),
        json!(18_446_744_073_709_551_615u64),
        json!(0.5),
        json!(""),
        json!(" "),
        json!("\u{0}\u{7}\u{202e}😀"),
        json!("x".repeat(10_000)),
        json!("1990-13-45T99:99:99Z"),
        json!([]),
        json!([null, 1, "a"]),
        json!({}),
        json!({"__proto__": {"admin": true}}),
    ]
}

/// Bodies that are not what any operation expects.
fn stray_bodies() -> Vec<String> {
    let mut deep = String::new();
    for _ in 0..300 {
        deep.push('[');
    }
    vec![
        String::new(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "\"text\"".into(),
        "{\"a\":".into(),
        "{\"a\":1,\"a\":2}".into(),
        deep,
        "\u{feff}{}".into(),
    ]
}

/// The schema `schema` points at, following `$ref`s into `components`.
fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => resolve(
            reference
                .trim_start_matches("#/")
                .split('/')
                .fold(doc, |node, key| &node[key]),
            doc,
        ),
        None => schema,
    }
}

/// A value that fits `schema` as far as a simple reading goes.
fn plausible(schema: &Value, doc: &Value, depth: usize) -> Value {
    let schema = resolve(schema, doc);
    if depth > 6 {
        return Value::Null;
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for alternatives in ["oneOf", "anyOf", "allOf"] {
        if let Some(first) = schema[alternatives].as_array().and_then(|a| a.first()) {
            return plausible(first, doc, depth + 1);
        }
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "integer" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "number" => json!(schema["minimum"].as_f64().unwrap_or(1.0).max(1.0)),
        "boolean" => json!(true),
        "array" => json!([plausible(&schema["items"], doc, depth + 1)]),
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), plausible(property, doc, depth + 1)))
                .collect(),
        ),
        "null" => Value::Null,
        _ => match schema["format"].as_str() {
            Some("date-time") => json!("2024-01-01T00:00:00Z"),
            Some("uuid") => json!("00000000-0000-0000-0000-000000000000"),
            _ => json!("x"),
        },
    }
}

/// The body variants for an operation whose body schema is `schema`.
fn bodies(schema: &Value, doc: &Value) -> Vec<String> {
    let base = plausible(schema, doc, 0);
    let mut bodies = vec![base.to_string()];
    if let Value::Object(fields) = &base {
        for name in fields.keys() {
            let mut without = fields.clone();
            without.remove(name);
            bodies.push(Value::Object(without).to_string());
            for value in hostile_values() {
                let mut with = fields.clone();
                with.insert(name.clone(), value);
                bodies.push(Value::Object(with).to_string());
            }
        }
        let mut extra: Map<String, Value> = fields.clone();
        extra.insert("unexpectedField".into(), json!(1));
        bodies.push(Value::Object(extra).to_string());
    }
    bodies.extend(hostile_values().iter().map(Value::to_string));
    bodies.extend(stray_bodies());
    bodies
}

/// Path parameter values that are not what any route expects.
const ODD_IDS: [&str; 6] = [
    "x",
    "00000000-0000-0000-0000-000000000000",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%F0%9F%98%80",
    "9999999999999999999999999",
];

fn with_path_params(path: &str, value: &str) -> String {
    path.split('/')
        .map(|segment| match segment.starts_with('{') {
            true => value,
            false => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn no_input_to_any_json_operation_gets_a_server_error() {
    let _turn = super::common::heavy_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let miyagi = Miyagi::up(dir.path(), &[]).await;
    let http = reqwest::Client::new();
    let doc: Value = http
        .get(miyagi.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut failures = Vec::new();
    let mut calls = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        // Streams never end and a backup writes a copy of the data dir: both are tested apart.
        if path.contains("stream") || path.ends_with("/backups") {
            continue;
        }
        for (method, operation) in operations.as_object().unwrap() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let json_body = &operation["requestBody"]["content"]["application/json"]["schema"];
            let bodies = match json_body.is_null() {
                true if operation["requestBody"].is_null() => vec![String::new()],
                // Multipart uploads have their own tests of bad input.
                true => continue,
                false => bodies(json_body, &doc),
            };
            let paths: Vec<String> = match path.contains('{') {
                true => ODD_IDS
                    .iter()
                    .map(|id| with_path_params(path, id))
                    .collect(),
                false => vec![path.clone()],
            };
            for target in &paths {
                for body in &bodies {
                    calls += 1;
                    let response = http
                        .request(method.clone(), miyagi.url(target))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    if status.is_server_error() {
                        let detail = response.text().await.unwrap_or_default();
                        if status == 503 && detail.contains("no chat model is configured") {
                            continue;
                        }
                        let shown: String = body.chars().take(200).collect();
                        failures.push(format!("{method} {target} {shown} -> {status} {detail}"));
                    }
                }
            }
        }
    }
    assert!(
        calls > 500,
        "the document lists the operations ({calls} calls)"
    );
    assert!(
        failures.is_empty(),
        "{} of {calls} calls got a server error:\n{}\n--- log ---\n{}",
        failures.len(),
        failures.join("\n"),
        miyagi.log_tail()
    );
    assert!(miyagi.stop());
}
