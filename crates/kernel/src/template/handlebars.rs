//! Handlebars templates (SK prompt YAML flavour). Plugin functions are helpers named
//! `Plugin-Function`: `{{Finance-Drift portfolio=portfolio}}` or `{{Text-Upper name}}`.

use std::sync::Arc;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, Template,
};
use serde_json::Value;

use super::{encode, sk::as_text};
use crate::{function::Arguments, function::KernelFunction, Kernel, KernelError};

pub fn compile(source: &str) -> Result<Template, KernelError> {
    Template::compile(source).map_err(|e| KernelError::Template(e.to_string()))
}

/// Renders on a blocking thread: Handlebars helpers are synchronous, and a helper that calls an
/// async plugin function waits for it there without stalling the async runtime.
pub async fn render(
    template: &Template,
    kernel: &Kernel,
    args: &Arguments,
) -> Result<String, KernelError> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(false);
    registry.register_escape_fn(encode);
    registry.register_template("prompt", template.clone());
    let runtime = tokio::runtime::Handle::current();
    for function in kernel.functions() {
        let name = format!("{}-{}", function.plugin(), function.name());
        registry.register_helper(
            &name,
            Box::new(FunctionHelper {
                function,
                kernel: kernel.clone(),
                runtime: runtime.clone(),
            }),
        );
    }
    let data = Value::Object(args.clone().into_iter().collect());
    tokio::task::spawn_blocking(move || registry.render("prompt", &data))
        .await
        .map_err(|e| KernelError::Template(format!("rendering stopped: {e}")))?
        .map_err(|e| KernelError::Template(e.to_string()))
}

struct FunctionHelper {
    function: Arc<dyn KernelFunction>,
    kernel: Kernel,
    runtime: tokio::runtime::Handle,
}

impl handlebars::HelperDef for FunctionHelper {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let mut args = Arguments::new();
        if let Some(first) = h.params().first() {
            let name = self
                .function
                .parameter_names()
                .into_iter()
                .next()
                .unwrap_or_else(|| "input".into());
            args.insert(name, first.value().clone());
        }
        for (k, v) in h.hash() {
            args.insert(k.to_string(), v.value().clone());
        }
        let result = self
            .runtime
            .block_on(self.kernel.invoke_function(&self.function, args))
            .map_err(|e| RenderError::from(RenderErrorReason::Other(e.to_string())))?;
        out.write(&encode(&as_text(&result)))?;
        Ok(())
    }
}
