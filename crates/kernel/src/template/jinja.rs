//! Jinja2 templates (Prompt Flow's syntax) through minijinja.

use minijinja::{Environment, Value};

use super::encode;
use crate::{function::Arguments, KernelError};

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() || value.is_none() {
            return Ok(());
        }
        let text = match value.as_str() {
            Some(s) => s.to_string(),
            None => value.to_string(),
        };
        out.write_str(&encode(&text))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    });
    env
}

pub fn check(source: &str) -> Result<(), KernelError> {
    environment()
        .template_from_str(source)
        .map(|_| ())
        .map_err(|e| KernelError::Template(e.to_string()))
}

pub fn render(source: &str, args: &Arguments) -> Result<String, KernelError> {
    let env = environment();
    let template = env
        .template_from_str(source)
        .map_err(|e| KernelError::Template(e.to_string()))?;
    template
        .render(Value::from_serialize(args))
        .map_err(|e| KernelError::Template(e.to_string()))
}
