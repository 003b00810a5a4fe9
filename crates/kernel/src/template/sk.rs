//! Semantic Kernel's template syntax, parsed once and rendered many times.
//!
//! ```text
//! {{$name}}                         a variable
//! {{"literal"}} {{'it\'s'}}          a quoted literal (how to write "{{" literally: {{ "{{" }})
//! {{plugin.function}}               a function call with the current variables
//! {{plugin.function $input}}        …with one positional argument (bound to its first parameter)
//! {{plugin.function a=$x b="lit"}}  …with named arguments
//! ```
//! No crate implements this syntax, hence this small parser. Unterminated `{{` is plain text, as in SK.

use serde_json::Value;

use super::encode;
use crate::{function::Arguments, Kernel, KernelError};

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Variable(String),
    Literal(String),
    Call {
        function: String,
        positional: Option<Arg>,
        named: Vec<(String, Arg)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Variable(String),
    Literal(String),
}

pub fn parse(source: &str) -> Result<Vec<Block>, KernelError> {
    let mut blocks = Vec::new();
    let mut text = String::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        text.push_str(&rest[..open]);
        let code = &rest[open + 2..];
        let Some(close) = closing_braces(code) else {
            text.push_str(&rest[open..]);
            rest = "";
            break;
        };
        if !text.is_empty() {
            blocks.push(Block::Text(std::mem::take(&mut text)));
        }
        if let Some(block) = code_block(code[..close].trim())? {
            blocks.push(block);
        }
        rest = &code[close + 2..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        blocks.push(Block::Text(text));
    }
    Ok(blocks)
}

/// Position of the `}}` that closes a code block, skipping any inside quoted literals.
fn closing_braces(code: &str) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(bytes[i]),
            (None, b'}') if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn tokens(code: &str) -> Result<Vec<String>, KernelError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                current.push(c);
                current.extend(chars.next());
            }
            (Some(q), c) if c == q => {
                current.push(c);
                quote = None;
            }
            (None, '"' | '\'') => {
                current.push(c);
                quote = Some(c);
            }
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if quote.is_some() {
        return Err(KernelError::Template(format!(
            "unterminated string in {{{{{code}}}}}"
        )));
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn literal(token: &str) -> Option<String> {
    let quote = token.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = token.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn arg(token: &str, code: &str) -> Result<Arg, KernelError> {
    if let Some(name) = token.strip_prefix('$') {
        if is_name(name) {
            return Ok(Arg::Variable(name.into()));
        }
    } else if let Some(value) = literal(token) {
        return Ok(Arg::Literal(value));
    }
    Err(KernelError::Template(format!(
        "`{token}` in {{{{{code}}}}} is neither a $variable nor a quoted literal"
    )))
}

fn code_block(code: &str) -> Result<Option<Block>, KernelError> {
    let tokens = tokens(code)?;
    let Some(first) = tokens.first() else {
        return Ok(None);
    };
    let bad = |why: &str| Err(KernelError::Template(format!("{{{{{code}}}}}: {why}")));
    if first.starts_with('$') || literal(first).is_some() {
        if tokens.len() > 1 {
            return bad("a variable or literal block takes nothing else");
        }
        return Ok(Some(match arg(first, code)? {
            Arg::Variable(v) => Block::Variable(v),
            Arg::Literal(l) => Block::Literal(l),
        }));
    }
    let valid_id = match first.split_once('.') {
        Some((plugin, function)) => is_name(plugin) && is_name(function),
        None => is_name(first),
    };
    if !valid_id {
        return bad("expected $variable, \"literal\" or plugin.function");
    }
    let mut positional = None;
    let mut named = Vec::new();
    for (i, token) in tokens.iter().enumerate().skip(1) {
        match token.split_once('=') {
            Some((name, value)) if is_name(name) && !token.starts_with(['"', '\'']) => {
                named.push((name.to_string(), arg(value, code)?))
            }
            _ if i == 1 => positional = Some(arg(token, code)?),
            _ => {
                return bad(
                    "only the first argument may be positional; name the others (name=$value)",
                )
            }
        }
    }
    Ok(Some(Block::Call {
        function: first.clone(),
        positional,
        named,
    }))
}

/// How a value reads in a prompt: strings as they are, anything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub async fn render(
    blocks: &[Block],
    kernel: &Kernel,
    args: &Arguments,
) -> Result<String, KernelError> {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Text(t) => out.push_str(t),
            Block::Literal(l) => out.push_str(l),
            Block::Variable(name) => out.push_str(&encode(&as_text(&lookup(args, name)))),
            Block::Call {
                function,
                positional,
                named,
            } => {
                let (plugin, name) = function.split_once('.').unwrap_or(("", function.as_str()));
                let target = kernel.find_function(plugin, name)?;
                let mut call_args = args.clone();
                let resolve = |a: &Arg| match a {
                    Arg::Variable(v) => lookup(args, v),
                    Arg::Literal(l) => Value::String(l.clone()),
                };
                if let Some(p) = positional {
                    let first = target
                        .parameter_names()
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| "input".into());
                    call_args.insert(first, resolve(p));
                }
                for (k, v) in named {
                    call_args.insert(k.clone(), resolve(v));
                }
                let result = kernel.invoke_function(&target, call_args).await?;
                out.push_str(&encode(&as_text(&result)));
            }
        }
    }
    Ok(out)
}

fn lookup(args: &Arguments, name: &str) -> Value {
    args.get(name).cloned().unwrap_or_else(|| {
        tracing::warn!(
            variable = name,
            "template variable has no value; rendering it empty"
        );
        Value::Null
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_variables_literals_and_calls_are_told_apart() {
        let blocks =
            parse(r#"Hi {{$name}}! {{ "{{" }} {{time.now}} {{w.get $city unit="C"}}"#).unwrap();
        assert_eq!(blocks[1], Block::Variable("name".into()));
        assert_eq!(blocks[3], Block::Literal("{{".into()));
        assert_eq!(
            blocks[5],
            Block::Call {
                function: "time.now".into(),
                positional: None,
                named: vec![]
            }
        );
        assert_eq!(
            blocks[7],
            Block::Call {
                function: "w.get".into(),
                positional: Some(Arg::Variable("city".into())),
                named: vec![("unit".into(), Arg::Literal("C".into()))]
            }
        );
    }

    #[test]
    fn closing_braces_inside_a_literal_do_not_end_the_block() {
        assert_eq!(
            parse(r#"{{ "a }} b" }}"#).unwrap(),
            vec![Block::Literal("a }} b".into())]
        );
    }

    #[test]
    fn escaped_quotes_stay_in_literals() {
        assert_eq!(
            parse(r#"{{ 'it\'s' }}"#).unwrap(),
            vec![Block::Literal("it's".into())]
        );
    }

    #[test]
    fn an_unterminated_block_is_plain_text() {
        assert_eq!(parse("a {{ b").unwrap(), vec![Block::Text("a {{ b".into())]);
    }

    #[test]
    fn malformed_code_is_a_template_error() {
        for bad in ["{{ $a $b }}", "{{ not-a-name }}", "{{ f.g $a $b }}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
