//! Plugins: named groups of functions the kernel can call and offer to models as tools.
//!
//! A [`NativeFunction`] wraps a Rust closure whose argument type derives `JsonSchema`, so the
//! parameters the model sees come from the type itself. A [`PromptFunction`] is a template plus
//! execution settings; it loads unchanged from SK prompt directories (`skprompt.txt` +
//! `config.json`) and SK prompt YAML.

use std::{collections::BTreeMap, future::Future, path::Path, sync::Arc};

use async_trait::async_trait;
use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    chat::{ChatRequest, ExecutionSettings},
    template::{to_messages, PromptTemplate, TemplateFormat},
    Kernel, KernelError,
};

/// Named argument values; strings for most prompts, any JSON for native functions.
pub type Arguments = BTreeMap<String, Value>;

/// What the model and the kernel know about a function.
#[derive(Debug, Clone)]
pub struct Signature {
    pub plugin: String,
    pub name: String,
    pub description: String,
    /// JSON schema (an object schema) of the arguments.
    pub parameters: Value,
}

impl Signature {
    pub fn new(plugin: &str, name: &str, description: &str, parameters: Value) -> Self {
        Self {
            plugin: plugin.into(),
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }

    /// `Plugin-Function`: the name the model calls it by (OpenAI allows `[A-Za-z0-9_-]`; SK uses the same form).
    pub fn tool_name(&self) -> String {
        format!("{}-{}", self.plugin, self.name)
    }
}

#[async_trait]
pub trait KernelFunction: Send + Sync {
    fn signature(&self) -> &Signature;
    fn plugin(&self) -> &str {
        &self.signature().plugin
    }
    fn name(&self) -> &str {
        &self.signature().name
    }
    fn description(&self) -> &str {
        &self.signature().description
    }
    fn parameters(&self) -> &Value {
        &self.signature().parameters
    }
    /// Runs the function. Use [`Kernel::invoke_function`] instead, so filters apply.
    async fn run(&self, kernel: &Kernel, args: Arguments) -> Result<Value, KernelError>;

    /// Parameter names in declaration order.
    fn parameter_names(&self) -> Vec<String> {
        self.parameters()["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// The caller's user (the kernel's, from [`Kernel::for_user`]) and the arguments.
type NativeFn =
    dyn Fn(Option<String>, Value) -> BoxFuture<'static, Result<Value, String>> + Send + Sync;

pub struct NativeFunction {
    signature: Signature,
    f: Arc<NativeFn>,
}

impl NativeFunction {
    /// `A` is the argument struct (its schema is what the model sees); errors are strings because
    /// they are shown to the model, which may correct its call.
    pub fn from_fn<A, R, F, Fut>(
        plugin: &str,
        name: &str,
        description: &str,
        f: F,
    ) -> Arc<dyn KernelFunction>
    where
        A: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, String>> + Send + 'static,
    {
        Self::typed(plugin, name, description, move |_user, args| f(args))
    }

    /// A function that acts for a person: it receives the user the kernel runs for, and refuses
    /// to run for nobody. The person is never an argument, so a model cannot name someone else.
    pub fn for_user<A, R, F, Fut>(
        plugin: &str,
        name: &str,
        description: &str,
        f: F,
    ) -> Arc<dyn KernelFunction>
    where
        A: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(String, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, String>> + Send + 'static,
    {
        let tool = format!("{plugin}-{name}");
        let f = Arc::new(f);
        Self::typed(
            plugin,
            name,
            description,
            move |user: Option<String>, args| {
                let f = f.clone();
                let tool = tool.clone();
                async move {
                    let user = user.ok_or_else(|| {
                        format!("{tool} acts for a person; call it through a kernel for that user")
                    })?;
                    f(user, args).await
                }
            },
        )
    }

    fn typed<A, R, F, Fut>(
        plugin: &str,
        name: &str,
        description: &str,
        f: F,
    ) -> Arc<dyn KernelFunction>
    where
        A: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(Option<String>, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, String>> + Send + 'static,
    {
        let mut parameters =
            serde_json::to_value(schemars::schema_for!(A)).expect("schemas serialize");
        if let Some(obj) = parameters.as_object_mut() {
            obj.remove("$schema");
            obj.remove("title");
        }
        let f = Arc::new(f);
        let schema = parameters.clone();
        Arc::new(Self {
            signature: Signature::new(plugin, name, description, parameters),
            f: Arc::new(move |user, mut args: Value| {
                let f = f.clone();
                coerce_strings(&mut args, &schema);
                Box::pin(async move {
                    let typed: A = serde_json::from_value(args)
                        .map_err(|e| format!("invalid arguments: {e}"))?;
                    let out = f(user, typed).await?;
                    serde_json::to_value(out).map_err(|e| e.to_string())
                })
            }),
        })
    }
}

/// Templates pass every literal as a string (`{{math.add a="2"}}`); like SK, convert strings to
/// the number or boolean a parameter declares, so the typed function still receives them.
fn coerce_strings(args: &mut Value, schema: &Value) {
    let (Some(args), Some(properties)) = (args.as_object_mut(), schema["properties"].as_object())
    else {
        return;
    };
    for (name, value) in args.iter_mut() {
        let Value::String(text) = value else { continue };
        let declared = &properties
            .get(name)
            .map(|p| p["type"].clone())
            .unwrap_or_default();
        let allows = |t: &str| {
            declared == t
                || declared
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == t))
        };
        let converted = if allows("integer") {
            text.trim().parse::<i64>().ok().map(Value::from)
        } else if allows("number") {
            text.trim().parse::<f64>().ok().map(Value::from)
        } else if allows("boolean") {
            text.trim().parse::<bool>().ok().map(Value::from)
        } else {
            None
        };
        if let Some(converted) = converted {
            *value = converted;
        }
    }
}

#[async_trait]
impl KernelFunction for NativeFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }
    async fn run(&self, kernel: &Kernel, args: Arguments) -> Result<Value, KernelError> {
        let user = kernel.user_id().map(str::to_string);
        (self.f)(user, Value::Object(args.into_iter().collect()))
            .await
            .map_err(|message| KernelError::Function {
                name: self.signature.tool_name(),
                message,
            })
    }
}

/// An input variable of a prompt function.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct InputVariable {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, alias = "defaultValue")]
    pub default: Option<Value>,
    #[serde(default)]
    pub is_required: bool,
}

/// A prompt function: template + settings, run against the kernel's chat model.
pub struct PromptFunction {
    signature: Signature,
    template: PromptTemplate,
    inputs: Vec<InputVariable>,
    settings: ExecutionSettings,
}

impl PromptFunction {
    pub fn new(
        plugin: &str,
        name: &str,
        description: &str,
        template: PromptTemplate,
        inputs: Vec<InputVariable>,
        settings: ExecutionSettings,
    ) -> Self {
        let properties: serde_json::Map<String, Value> = inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    json!({"type": "string", "description": i.description}),
                )
            })
            .collect();
        let required: Vec<&str> = inputs
            .iter()
            .filter(|i| i.is_required)
            .map(|i| i.name.as_str())
            .collect();
        let parameters = json!({"type": "object", "properties": properties, "required": required});
        Self {
            signature: Signature::new(plugin, name, description, parameters),
            template,
            inputs,
            settings,
        }
    }

    pub fn template(&self) -> &PromptTemplate {
        &self.template
    }

    pub fn settings(&self) -> &ExecutionSettings {
        &self.settings
    }

    /// Fills defaults and checks required inputs.
    pub fn complete_arguments(&self, mut args: Arguments) -> Result<Arguments, KernelError> {
        for input in &self.inputs {
            if !args.contains_key(&input.name) {
                match (&input.default, input.is_required) {
                    (Some(default), _) => {
                        args.insert(input.name.clone(), default.clone());
                    }
                    (None, true) => {
                        return Err(KernelError::Function {
                            name: self.signature.tool_name(),
                            message: format!("missing required input `{}`", input.name),
                        })
                    }
                    (None, false) => {}
                }
            }
        }
        Ok(args)
    }

    /// The chat request this function sends for `args`: defaults filled in, the template
    /// rendered with the prompt filters and split into messages, the function's settings. Run
    /// by [`KernelFunction::run`], and by callers that send the request their own way (streamed,
    /// or as structured output).
    pub async fn request(
        &self,
        kernel: &Kernel,
        args: Arguments,
    ) -> Result<ChatRequest, KernelError> {
        let args = self.complete_arguments(args)?;
        let rendered = kernel
            .render(&self.template, &self.signature.tool_name(), &args)
            .await?;
        Ok(ChatRequest {
            messages: to_messages(&rendered)?,
            settings: self.settings.clone(),
            tools: vec![],
        })
    }

    /// Loads `<dir>/skprompt.txt` + `<dir>/config.json` (SK schema 1, old `completion` or new
    /// `execution_settings` form); the function is named after the folder.
    pub fn from_directory(plugin: &str, dir: &Path) -> Result<Self, KernelError> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .map_err(|e| KernelError::Config(format!("{}: {e}", dir.join(file).display())))
        };
        let config = match dir.join("config.json").exists() {
            true => Some(read("config.json")?),
            false => None,
        };
        Self::from_sk(plugin, &name, &read("skprompt.txt")?, config.as_deref())
            .map_err(|e| KernelError::Config(format!("{}: {e}", dir.display())))
    }

    /// A prompt function from the two files of an SK prompt directory, given as text (say,
    /// built into the binary).
    pub fn from_sk(
        plugin: &str,
        name: &str,
        skprompt: &str,
        config_json: Option<&str>,
    ) -> Result<Self, KernelError> {
        let template = PromptTemplate::new(TemplateFormat::SemanticKernel, skprompt.to_string())?;
        let config: SkConfig = match config_json {
            Some(json) => serde_json::from_str(json)
                .map_err(|e| KernelError::Config(format!("config.json: {e}")))?,
            None => SkConfig::default(),
        };
        let settings = config
            .completion
            .or_else(|| config.execution_settings.get("default").cloned())
            .unwrap_or_default();
        let mut inputs = config.input_variables;
        inputs.extend(config.input.map(|i| i.parameters).unwrap_or_default());
        Ok(Self::new(
            plugin,
            name,
            &config.description,
            template,
            inputs,
            settings,
        ))
    }

    /// Loads SK prompt YAML (`name`, `template`, `template_format`, `input_variables`,
    /// `execution_settings` by service id; `default` is used).
    pub fn from_yaml(plugin: &str, yaml: &str) -> Result<Self, KernelError> {
        let doc: PromptYaml = serde_yaml_ng::from_str(yaml)
            .map_err(|e| KernelError::Config(format!("prompt YAML: {e}")))?;
        let template = PromptTemplate::new(doc.template_format, doc.template)?;
        let settings = doc
            .execution_settings
            .get("default")
            .or_else(|| doc.execution_settings.values().next())
            .cloned()
            .unwrap_or_default();
        Ok(Self::new(
            plugin,
            &doc.name,
            &doc.description,
            template,
            doc.input_variables,
            settings,
        ))
    }
}

#[derive(Deserialize, Default)]
struct SkConfig {
    #[serde(default)]
    description: String,
    /// Old form: `"completion": {"max_tokens": …}`.
    completion: Option<ExecutionSettings>,
    /// New form: `"execution_settings": {"default": {…}}`.
    #[serde(default)]
    execution_settings: BTreeMap<String, ExecutionSettings>,
    /// Old form: `"input": {"parameters": [{"name", "description", "defaultValue"}]}`.
    input: Option<SkInput>,
    #[serde(default)]
    input_variables: Vec<InputVariable>,
}

#[derive(Deserialize)]
struct SkInput {
    #[serde(default)]
    parameters: Vec<InputVariable>,
}

#[derive(Deserialize)]
struct PromptYaml {
    name: String,
    template: String,
    #[serde(default)]
    template_format: TemplateFormat,
    #[serde(default)]
    description: String,
    #[serde(default)]
    input_variables: Vec<InputVariable>,
    #[serde(default)]
    execution_settings: BTreeMap<String, ExecutionSettings>,
}

#[async_trait]
impl KernelFunction for PromptFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }
    async fn run(&self, kernel: &Kernel, args: Arguments) -> Result<Value, KernelError> {
        let request = self.request(kernel, args).await?;
        Ok(Value::String(kernel.chat(request).await?.message.content))
    }
}

/// A named set of functions.
#[derive(Clone)]
pub struct Plugin {
    pub name: String,
    pub functions: Vec<Arc<dyn KernelFunction>>,
}

impl Plugin {
    pub fn new(name: &str, functions: Vec<Arc<dyn KernelFunction>>) -> Self {
        Self {
            name: name.into(),
            functions,
        }
    }

    /// Loads every prompt function below `dir` (SK layout `<Plugin>/<Function>/skprompt.txt`,
    /// plus `*.yaml` prompt files); the plugin is named after the folder. Read at run time, so
    /// editing a prompt needs no rebuild.
    pub fn from_directory(dir: &Path) -> Result<Self, KernelError> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| KernelError::Config(format!("{}: {e}", dir.display())))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        let mut functions: Vec<Arc<dyn KernelFunction>> = Vec::new();
        for path in entries {
            if path.join("skprompt.txt").exists() {
                functions.push(Arc::new(PromptFunction::from_directory(&name, &path)?));
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let yaml = std::fs::read_to_string(&path)
                    .map_err(|e| KernelError::Config(format!("{}: {e}", path.display())))?;
                functions.push(Arc::new(PromptFunction::from_yaml(&name, &yaml)?));
            }
        }
        Ok(Self::new(&name, functions))
    }
}
