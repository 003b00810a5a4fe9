//! `ValidJson<T>`: the JSON body extractor every handler uses.
//!
//! Compared with `axum::Json` it reports *which* field is wrong (path and reason) as problem+json,
//! refuses fields the type does not know (a typo like `favouriteBook` must not vanish silently),
//! and runs the type's `validator` rules before the handler sees the value.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, FromRequest, Request},
    http::{header, StatusCode},
};
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};
use validator::Validate;

use super::problem::{FieldError, Problem};

pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_problem)?;
        let value: T = parse(&bytes)?;
        value.validate().map_err(|errors| {
            // Name each field as the client wrote it: the key as sent if present (snake_case
            // APIs), else Miyagi's camelCase.
            let sent: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            Problem::from_validation(&errors, &|rust: &str| match sent.get(rust) {
                Some(_) => rust.to_string(),
                None => super::problem::camel_case(rust),
            })
        })?;
        Ok(ValidJson(value))
    }
}

/// Parses JSON into `T`, naming the offending field on type errors and rejecting unknown fields.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut document: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(format!(
            "malformed JSON: {}",
            strip_position(&e.to_string())
        ))
    })?;
    whole_numbers_as_integers(&mut document);
    let mut unknown = Vec::new();
    let mut record_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignoring = serde_ignored::Deserializer::new(document, &mut record_unknown);
    let value = serde_path_to_error::deserialize(ignoring).map_err(|e| {
        let field = match e.path().to_string() {
            root if root == "." => "(body)".to_string(),
            field => field,
        };
        let message = e.into_inner().to_string();
        Problem::invalid_fields(vec![FieldError { field, message }])
    })?;
    if !unknown.is_empty() {
        return Err(Problem::invalid_fields(
            unknown
                .into_iter()
                .map(|field| FieldError {
                    field,
                    message: "unknown field".into(),
                })
                .collect(),
        ));
    }
    Ok(value)
}

/// JSON has one kind of number, and JSON Schema counts `3.0` as an integer (JavaScript cannot
/// even tell the two apart), so an integer field takes a number without a fraction, as the
/// OpenAPI document promises. Beyond 2^53 a float no longer holds every integer exactly; those
/// stay floats and an integer field refuses them.
fn whole_numbers_as_integers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
                if float.fract() == 0.0 && float.abs() <= EXACT {
                    *number = Number::from(float as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string()
}

fn body_problem(rejection: BytesRejection) -> Problem {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            status,
            "request body is larger than the configured limit (http.body_limit_bytes)",
        )
    } else {
        Problem::new(status, rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Person {
        name: String,
        age: u32,
        pets: Vec<Pet>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Pet {
        kind: String,
    }

    fn field_of(p: Problem) -> String {
        p.errors
            .first()
            .map(|e| e.field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_wrong_type_names_the_field_path() {
        let p = parse::<Person>(br#"{"name":"A","age":"old","pets":[]}"#).unwrap_err();
        assert_eq!((p.status, field_of(p)), (422, "age".to_string()));
    }

    #[test]
    fn a_nested_wrong_type_names_the_nested_path() {
        let p = parse::<Person>(br#"{"name":"A","age":3,"pets":[{"kind":1}]}"#).unwrap_err();
        assert_eq!(field_of(p), "pets[0].kind");
    }

    #[test]
    fn an_unknown_field_is_rejected_by_name() {
        let p = parse::<Person>(br#"{"name":"A","age":3,"pets":[],"nmae":"x"}"#).unwrap_err();
        assert_eq!((p.status, field_of(p)), (422, "nmae".to_string()));
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let p = parse::<Person>(br#"{"name":"A","#).unwrap_err();
        assert_eq!(p.status, 400);
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_fills_an_integer_field() {
        let person = parse::<Person>(br#"{"name":"A","age":30.0,"pets":[]}"#).unwrap();
        assert_eq!(person.age, 30);
    }

    #[test]
    fn a_fraction_is_refused_by_an_integer_field() {
        let p = parse::<Person>(br#"{"name":"A","age":30.5,"pets":[]}"#).unwrap_err();
        assert_eq!((p.status, field_of(p)), (422, "age".to_string()));
    }

    #[test]
    fn a_missing_field_is_named() {
        let p = parse::<Person>(br#"{"name":"A","pets":[]}"#).unwrap_err();
        assert!(p.errors[0].message.contains("age"), "{:?}", p.errors);
    }
}
