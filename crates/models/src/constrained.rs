//! Constrained decoding: at each step only tokens that keep the output inside a regular language
//! may be sampled, so the result is valid by construction.
//!
//! Every constraint becomes a regular expression — a JSON schema (Outlines' method: compact JSON,
//! properties in the schema map's key order), a choice among strings, or a regex as given — compiled once to a
//! DFA (regex-automata). A token is allowed if feeding its bytes from the current DFA state never
//! reaches the dead state; end-of-sequence is allowed once the output so far is a full match.

use regex_automata::{
    dfa::{dense, Automaton},
    nfa::thompson,
    util::{primitives::StateID, start},
    Anchored, MatchKind,
};
use serde_json::Value;

pub struct Constraint {
    dfa: dense::DFA<Vec<u32>>,
    state: StateID,
}

/// One character of a JSON string: anything but quote, backslash and controls, or an escape.
macro_rules! string_char {
    () => {
        r#"(?:[^"\\\x00-\x1F]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})"#
    };
}
const STRING_CHAR: &str = string_char!();
/// A JSON string of any length.
const STRING: &str = concat!('"', string_char!(), "*", '"');
// Numbers and arrays are bounded: a small model left free to write digits or items forever runs
// out of tokens mid-value, and a cut-off value is not JSON.
const NUMBER: &str = r"-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,6})?(?:[eE][+-]?[0-9]{1,3})?";
/// Most items an array may hold.
const MAX_ITEMS: usize = 8;
/// The most memory one constraint's automaton may take (and so, roughly, its compile time).
const MAX_AUTOMATON_BYTES: usize = 256 << 20;
/// Nesting allowed for schema-less JSON (`json_object`): a DFA cannot count brackets forever.
const ANY_JSON_DEPTH: usize = 2;

impl Constraint {
    pub fn regex(pattern: &str) -> anyhow::Result<Self> {
        // Schemas and patterns come from callers of `/v1/chat/completions`: a `maxLength` of a
        // million, or alternatives that blow up when determinized, must fail fast with an error,
        // not take the process's memory and the model's queue for minutes.
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .dfa_size_limit(Some(MAX_AUTOMATON_BYTES))
                    .determinize_size_limit(Some(MAX_AUTOMATON_BYTES)),
            )
            .thompson(thompson::Config::new().nfa_size_limit(Some(MAX_AUTOMATON_BYTES / 8)))
            .build(&format!(r"^(?:{pattern})$"))
            .map_err(|e| anyhow::anyhow!("constraint does not compile: {e}"))?;
        let state = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|e| anyhow::anyhow!("constraint has no start state: {e}"))?;
        Ok(Self { dfa, state })
    }

    pub fn choice(options: &[String]) -> anyhow::Result<Self> {
        anyhow::ensure!(!options.is_empty(), "a choice needs at least one option");
        Self::regex(
            &options
                .iter()
                .map(|o| regex_syntax::escape(o))
                .collect::<Vec<_>>()
                .join("|"),
        )
    }

    pub fn json_schema(schema: &Value) -> anyhow::Result<Self> {
        Self::regex(&schema_regex(schema, schema, 0)?)
    }

    pub fn any_json() -> anyhow::Result<Self> {
        Self::regex(&format!(
            r"\{{(?:{STRING}:{v}(?:,{STRING}:{v})*)?\}}",
            v = any_value(ANY_JSON_DEPTH - 1)
        ))
    }

    /// Whether `bytes` can follow what was accepted so far.
    pub fn allows(&self, bytes: &[u8]) -> bool {
        let mut state = self.state;
        for &b in bytes {
            state = self.dfa.next_state(state, b);
            if self.dfa.is_dead_state(state) {
                return false;
            }
        }
        !bytes.is_empty()
    }

    /// Whether the output so far is complete (end-of-sequence may come now).
    pub fn complete(&self) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(self.state))
    }

    pub fn accept(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = self.dfa.next_state(self.state, b);
        }
    }

    /// The bytes every valid continuation starts with, up to the first choice or the end: what
    /// the constraint alone decides (a schema's keys and punctuation, the rest of the only enum
    /// value left), so no model pass need choose it.
    pub fn forced(&self) -> Vec<u8> {
        let mut state = self.state;
        let mut forced = Vec::new();
        while !self.dfa.is_match_state(self.dfa.next_eoi_state(state)) {
            let mut live = (0..=255u8)
                .map(|b| (b, self.dfa.next_state(state, b)))
                .filter(|(_, next)| !self.dfa.is_dead_state(*next));
            match (live.next(), live.next()) {
                (Some((b, next)), None) => {
                    forced.push(b);
                    state = next;
                }
                _ => break,
            }
        }
        forced
    }
}

fn any_value(depth: usize) -> String {
    let scalars = format!("{STRING}|{NUMBER}|true|false|null");
    if depth == 0 {
        return scalars;
    }
    let inner = any_value(depth - 1);
    format!(
        r"{scalars}|\[(?:(?:{inner})(?:,(?:{inner}))*)?\]|\{{(?:{STRING}:(?:{inner})(?:,{STRING}:(?:{inner}))*)?\}}"
    )
}

fn alternatives(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

fn literal(value: &Value) -> String {
    regex_syntax::escape(&value.to_string())
}

/// The regex of JSON texts valid for `schema` (compact, properties in the schema map's key
/// order, every property present). `root` resolves `$ref`s into `$defs`/`definitions`.
fn schema_regex(schema: &Value, root: &Value, depth: usize) -> anyhow::Result<String> {
    anyhow::ensure!(depth < 16, "schema nests too deeply (recursive $ref?)");
    if let Some(reference) = schema["$ref"].as_str() {
        let path = reference
            .strip_prefix("#/")
            .ok_or_else(|| anyhow::anyhow!("only local $refs are supported: {reference}"))?;
        let target = path
            .split('/')
            .try_fold(root, |node, key| node.get(key))
            .ok_or_else(|| anyhow::anyhow!("unresolved $ref {reference}"))?;
        return schema_regex(target, root, depth + 1);
    }
    if let Some(value) = schema.get("const") {
        return Ok(literal(value));
    }
    if let Some(options) = schema["enum"].as_array() {
        return Ok(options.iter().map(literal).collect::<Vec<_>>().join("|"));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            let parts = options
                .iter()
                .map(|o| schema_regex(o, root, depth + 1))
                .collect::<anyhow::Result<Vec<_>>>()?;
            return Ok(alternatives(&parts));
        }
    }
    if let Some(types) = schema["type"].as_array() {
        let parts = types
            .iter()
            .map(|t| {
                let mut single = schema.clone();
                single["type"] = t.clone();
                schema_regex(&single, root, depth + 1)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        return Ok(alternatives(&parts));
    }
    // A small closed range (a citation's source number, a rating) is spelled out value by value,
    // so the model cannot write a number of the right width but out of range.
    if schema["type"] == "integer" {
        if let (Some(lo), Some(hi)) = (schema["minimum"].as_i64(), schema["maximum"].as_i64()) {
            if lo <= hi && hi - lo <= 256 {
                let values: Vec<String> = (lo..=hi).map(|v| v.to_string()).collect();
                return Ok(format!("(?:{})", values.join("|")));
            }
        }
    }
    let non_negative = schema["minimum"].as_f64().is_some_and(|m| m >= 0.0);
    // Integer widths (schemars writes `format: uint32` rather than a maximum): allow one digit
    // fewer than the largest value has, which can never overflow the target type.
    let max_digits = match (schema["maximum"].as_f64(), schema["format"].as_str()) {
        (Some(max), _) if max >= 10.0 => (max.log10().floor() as usize).min(15),
        (Some(_), _) => 1,
        (None, Some("uint8" | "int8")) => 2,
        (None, Some("uint16" | "int16")) => 4,
        (None, Some("uint32" | "int32")) => 9,
        _ => 16,
    };
    let integer = format!("(?:0|[1-9][0-9]{{0,{}}})", max_digits - 1);
    Ok(match schema["type"].as_str() {
        // A bounded string both keeps a model from writing past its token budget and lets the
        // caller size that budget.
        Some("string") if schema.get("pattern").is_some() => string_pattern(schema)?,
        Some("string") => match (schema["minLength"].as_u64(), schema["maxLength"].as_u64()) {
            (None, None) => STRING.to_string(),
            (min, Some(max)) => format!(r#""{STRING_CHAR}{{{},{max}}}""#, min.unwrap_or(0)),
            (Some(min), None) => format!(r#""{STRING_CHAR}{{{min},}}""#),
        },
        Some("integer") if non_negative => integer,
        Some("integer") => format!("-?{integer}"),
        Some("number") if non_negative => NUMBER.trim_start_matches("-?").to_string(),
        Some("number") => NUMBER.to_string(),
        Some("boolean") => "true|false".to_string(),
        Some("null") => "null".to_string(),
        Some("array") => {
            let item = match schema.get("items") {
                Some(items) => schema_regex(items, root, depth + 1)?,
                None => any_value(1),
            };
            let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
            let max = schema["maxItems"]
                .as_u64()
                .map_or(MAX_ITEMS, |m| m as usize)
                .min(MAX_ITEMS.max(min));
            if max == 0 {
                return Ok(r"\[\]".to_string());
            }
            let items = format!(
                "(?:{item})(?:,(?:{item})){{{},{}}}",
                min.saturating_sub(1),
                max - 1
            );
            if min == 0 {
                format!(r"\[(?:{items})?\]")
            } else {
                format!(r"\[{items}\]")
            }
        }
        Some("object") | None if schema.get("properties").is_some() => {
            let properties = schema["properties"].as_object().ok_or_else(|| {
                anyhow::anyhow!("`properties` must be an object of named schemas")
            })?;
            let fields = properties
                .iter()
                .map(|(name, sub)| {
                    Ok(format!(
                        "{}:(?:{})",
                        literal(&Value::String(name.clone())),
                        schema_regex(sub, root, depth + 1)?
                    ))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            format!(r"\{{{}\}}", fields.join(","))
        }
        Some("object") => format!(
            r"\{{(?:{STRING}:(?:{v})(?:,{STRING}:(?:{v}))*)?\}}",
            v = any_value(1)
        ),
        None => any_value(1),
        Some(other) => anyhow::bail!("schema type {other:?} is not supported"),
    })
}

/// A string whose whole content matches the schema's `pattern` (anchors optional: an unanchored
/// pattern is held to the whole string, a stricter reading than JSON Schema's search, so every
/// output still validates). The pattern is put between the quotes as it is, so it may not allow a
/// character JSON must escape, and it carries the string's lengths itself: a DFA cannot
/// intersect it with a separate `minLength`/`maxLength`.
fn string_pattern(schema: &Value) -> anyhow::Result<String> {
    let pattern = schema["pattern"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("a string's `pattern` must be a string"))?;
    anyhow::ensure!(
        schema.get("minLength").is_none() && schema.get("maxLength").is_none(),
        "a string with a `pattern` cannot also have `minLength`/`maxLength`: bound the length inside the pattern"
    );
    let inner = pattern.strip_prefix('^').unwrap_or(pattern);
    let inner = match inner.strip_suffix('$') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => inner,
    };
    let hir =
        regex_syntax::parse(inner).map_err(|e| anyhow::anyhow!("`pattern` does not parse: {e}"))?;
    anyhow::ensure!(
        json_safe(&hir),
        "`pattern` {pattern:?} allows a quote, a backslash or a control character, which a JSON string must escape: exclude them (for example [^\"\\\\\\x00-\\x1F] instead of .)"
    );
    Ok(format!(r#""(?:{inner})""#))
}

/// Whether every character `hir` can match may stand unescaped in a JSON string.
fn json_safe(hir: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    let unsafe_char = |c: u32| c < 0x20 || c == u32::from('"') || c == u32::from('\\');
    // Every unsafe character is below 0x80, so a range is unsafe when its ASCII part holds one.
    let safe_range = |start: u32, end: u32| (start..=end.min(0x7F)).all(|c| !unsafe_char(c));
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(literal) => !literal.0.iter().any(|b| unsafe_char(u32::from(*b))),
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .all(|r| safe_range(u32::from(r.start()), u32::from(r.end()))),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .iter()
            .all(|r| safe_range(u32::from(r.start()), u32::from(r.end()))),
        HirKind::Repetition(repetition) => json_safe(&repetition.sub),
        HirKind::Capture(capture) => json_safe(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().all(json_safe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_that_are_not_an_object_are_an_error_not_a_panic() {
        let error = Constraint::json_schema(&json!({"type": "object", "properties": 5}))
            .err()
            .expect("refused");
        assert!(
            error.to_string().contains("`properties` must be an object"),
            "{error}"
        );
    }

    #[test]
    fn a_schema_whose_automaton_would_be_huge_is_refused_quickly() {
        let started = std::time::Instant::now();
        let huge = json!({"type": "string", "maxLength": 5_000_000});
        assert!(Constraint::json_schema(&huge).is_err());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    fn accepts(c: &Constraint, text: &str) -> bool {
        let mut c = Constraint {
            dfa: c.dfa.clone(),
            state: c.state,
        };
        if !c.allows(text.as_bytes()) {
            return false;
        }
        c.accept(text.as_bytes());
        c.complete()
    }

    #[test]
    fn a_schema_accepts_valid_json_and_nothing_else() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
            "risk": {"enum": ["Low", "High"]}, "tags": {"type": "array", "items": {"type": "string"}},
            "ok": {"type": ["boolean", "null"]}}});
        let c = Constraint::json_schema(&schema).unwrap();
        // Properties come in the schema map's (sorted) key order.
        assert!(accepts(
            &c,
            r#"{"age":30,"name":"A \"q\"","ok":null,"risk":"High","tags":["x","y"]}"#
        ));
        assert!(!accepts(
            &c,
            r#"{"age":-1,"name":"A","ok":true,"risk":"High","tags":[]}"#
        ));
        assert!(!accepts(
            &c,
            r#"{"age":30,"name":"A","ok":true,"risk":"Mid","tags":[]}"#
        ));
        assert!(
            !accepts(&c, r#"{"age":30,"name":"A""#),
            "incomplete is not complete"
        );
    }

    #[test]
    fn string_lengths_and_item_counts_are_bounded_as_the_schema_says() {
        let schema = json!({"type": "array", "minItems": 2, "maxItems": 3,
                            "items": {"type": "string", "minLength": 1, "maxLength": 3}});
        let c = Constraint::json_schema(&schema).unwrap();
        assert!(accepts(&c, r#"["a","abc"]"#));
        assert!(accepts(&c, r#"["a","b","c"]"#));
        assert!(!accepts(&c, r#"["a"]"#), "too few items");
        assert!(!accepts(&c, r#"["a","b","c","d"]"#), "too many items");
        assert!(!accepts(&c, r#"["abcd","a"]"#), "string too long");
        assert!(!accepts(&c, r#"["","a"]"#), "string too short");
        let none = Constraint::json_schema(&json!({"type": "array", "maxItems": 0})).unwrap();
        assert!(accepts(&none, "[]") && !accepts(&none, r#"["a"]"#));
    }

    #[test]
    fn prefixes_of_valid_output_stay_allowed() {
        let c = Constraint::choice(&["Buy".into(), "Sell".into(), "Hold".into()]).unwrap();
        assert!(c.allows(b"Se") && c.allows(b"Hold") && !c.allows(b"Short"));
    }

    #[test]
    fn integers_never_exceed_their_declared_width() {
        let c =
            Constraint::json_schema(&json!({"type": "integer", "format": "uint8", "minimum": 0}))
                .unwrap();
        assert!(accepts(&c, "99") && !accepts(&c, "100") && !accepts(&c, "-1"));
        let c = Constraint::json_schema(&json!({"type": "integer", "minimum": 0, "maximum": 100}))
            .unwrap();
        assert!(accepts(&c, "99") && !accepts(&c, "101"));
    }

    #[test]
    fn a_small_integer_range_allows_exactly_its_values() {
        let c = Constraint::json_schema(&json!({"type": "integer", "minimum": 1, "maximum": 3}))
            .unwrap();
        assert!(accepts(&c, "1") && accepts(&c, "2") && accepts(&c, "3"));
        assert!(!accepts(&c, "0") && !accepts(&c, "4") && !accepts(&c, "10"));
        let one = Constraint::json_schema(&json!({"type": "integer", "minimum": 1, "maximum": 1}))
            .unwrap();
        assert!(accepts(&one, "1") && !accepts(&one, "2"));
    }

    #[test]
    fn refs_into_defs_are_followed() {
        let schema = json!({"type": "object", "properties": {"p": {"$ref": "#/$defs/P"}},
                            "$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}}}}});
        let c = Constraint::json_schema(&schema).unwrap();
        assert!(accepts(&c, r#"{"p":{"x":1.5e3}}"#));
    }

    #[test]
    fn a_string_pattern_shapes_the_whole_string() {
        let sentences = r"^[A-Z][a-z ]{2,20}\.( [A-Z][a-z ]{2,20}\.){1,2}$";
        let c = Constraint::json_schema(&json!({"type": "string", "pattern": sentences})).unwrap();
        assert!(accepts(&c, r#""Hold on. Buy more.""#));
        assert!(!accepts(&c, r#""Hold on.""#), "one sentence is too few");
        assert!(
            !accepts(&c, r#""Hold on. Buy more. Sell. Wait.""#),
            "four are too many"
        );
        assert!(!accepts(&c, r#""Hold 60 now. Buy more.""#), "no digits");
    }

    #[test]
    fn a_pattern_that_would_break_the_json_string_is_refused() {
        for pattern in [".*", r#"[a-z"]+"#, r"\\d+", "a\nb"] {
            let error = Constraint::json_schema(&json!({"type": "string", "pattern": pattern}))
                .err()
                .unwrap_or_else(|| panic!("{pattern} was accepted"));
            assert!(error.to_string().contains("must escape"), "{error}");
        }
        let bounded = json!({"type": "string", "pattern": "[a-z]+", "maxLength": 4});
        assert!(Constraint::json_schema(&bounded).is_err());
    }

    #[test]
    fn what_only_one_continuation_allows_is_forced() {
        let schema = json!({"type": "object", "properties": {
            "quote": {"enum": ["Costs compound.", "Costs matter."]}, "n": {"type": "integer"}}});
        let mut c = Constraint::json_schema(&schema).unwrap();
        assert_eq!(c.forced(), br#"{"n":"#);
        c.accept(br#"{"n":7"#);
        assert!(c.forced().is_empty(), "a digit or a comma may follow");
        c.accept(br#","quote":"Costs m"#);
        assert_eq!(c.forced(), br#"atter."}"#);
        c.accept(br#"atter."}"#);
        assert!(c.forced().is_empty() && c.complete());
    }
}
