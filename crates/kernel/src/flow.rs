//! Prompt flow's `flow.dag.yaml`, run by the kernel: a flow written for Prompt flow runs here
//! unchanged where its node types are supported, and is refused at load, each unsupported part
//! named, where they are not. Nothing runs half a flow and then fails on a node it never could.
//!
//! Supported:
//! - `inputs` with `type` and `default`;
//! - `outputs` that `reference` a node's output (`${node.output}`, or a field of a JSON output,
//!   `${node.output.total}`) or an input;
//! - `llm` nodes (`api: chat`) and `prompt` nodes, whose `source.path` is a Jinja2 template in
//!   Prompt flow's chat format (`system:` / `user:` / `assistant:` lines) or a Semantic Kernel
//!   prompt directory (`skprompt.txt` + `config.json`);
//! - tool nodes that call one of the kernel's native functions: `type: python` with
//!   `source: {type: package, tool: plugin.function}`, Prompt flow's form for a packaged tool.
//!   Its output is the function's JSON, so `${node.output.field}` reads a field of it. Every
//!   function a flow names is looked up before its first node runs;
//! - node inputs that are literals or `${inputs.x}` / `${node.output…}` references.
//!
//! An `llm` node's `temperature`, `max_tokens`, `top_p`, `stop`, `presence_penalty` and
//! `frequency_penalty` inputs are its settings; `deployment_name` and `model` are accepted and
//! the kernel's model answers (the flow's connection is the deployment's business, not the
//! flow's). Refused: `python` code (a `.py` source: there is no Python here) and every other
//! node type, `activate`, `aggregation`, `use_variants`, `api: completion`.
//!
//! Values never become roles: a template is split at its role lines before it is rendered, so a
//! value holding "system:" stays text in the message it was put in.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    chat::{ChatMessage, ChatRequest, ExecutionSettings, Role},
    function::{Arguments, PromptFunction},
    template::{decode, PromptTemplate, TemplateFormat},
    Kernel, KernelError,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// The Python environment Prompt flow would build: nothing here needs one.
    #[serde(default)]
    environment: Option<Value>,
    #[serde(default)]
    inputs: BTreeMap<String, InputSpec>,
    outputs: BTreeMap<String, OutputSpec>,
    nodes: Vec<NodeSpec>,
}

#[derive(Deserialize)]
struct InputSpec {
    default: Option<Value>,
}

#[derive(Deserialize)]
struct OutputSpec {
    reference: String,
}

#[derive(Deserialize)]
struct NodeSpec {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    source: Option<SourceSpec>,
    #[serde(default)]
    inputs: BTreeMap<String, Value>,
    api: Option<String>,
    activate: Option<Value>,
    aggregation: Option<bool>,
    use_variants: Option<bool>,
}

#[derive(Deserialize)]
struct SourceSpec {
    #[serde(rename = "type")]
    kind: Option<String>,
    path: Option<PathBuf>,
    tool: Option<String>,
}

/// What a node does.
enum Step {
    /// Renders the template and sends it to the model; the answer's text is the output.
    Llm(Template),
    /// Renders the template; the text is the output.
    Prompt(Template),
    /// Calls the kernel's `plugin.function` with the node's inputs; its JSON is the output.
    Native { plugin: String, function: String },
}

/// A node's template: Prompt flow's chat format cut at its role lines, or an SK function.
enum Template {
    Chat(Vec<(Role, PromptTemplate)>),
    Sk(Box<PromptFunction>),
}

struct Node {
    name: String,
    step: Step,
    inputs: BTreeMap<String, Value>,
}

/// A flow read and checked, its nodes in the order they can run.
pub struct Flow {
    inputs: BTreeMap<String, Option<Value>>,
    outputs: BTreeMap<String, String>,
    nodes: Vec<Node>,
}

const SETTINGS: [&str; 8] = [
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "deployment_name",
    "model",
];

impl Flow {
    /// Reads `flow.dag.yaml` (paths in it are relative to its folder). Every unsupported part is
    /// named in one error.
    pub fn load(path: &Path) -> Result<Self, KernelError> {
        let config =
            |message: String| KernelError::Config(format!("{}: {message}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| config(e.to_string()))?;
        let file: FlowFile = serde_yaml_ng::from_str(&text).map_err(|e| config(e.to_string()))?;
        let _ = file.environment;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut refused = Vec::new();
        let mut nodes = Vec::new();
        for spec in file.nodes {
            for (key, present) in [
                ("activate", spec.activate.is_some()),
                ("aggregation", spec.aggregation == Some(true)),
                ("use_variants", spec.use_variants == Some(true)),
            ] {
                if present {
                    refused.push(format!("node {:?}: `{key}` is not supported", spec.name));
                }
            }
            let template = || -> Result<Template, String> {
                let source = spec
                    .source
                    .as_ref()
                    .and_then(|s| s.path.as_ref())
                    .ok_or("it has no `source.path`")?;
                template(&base.join(source)).map_err(|e| e.to_string())
            };
            let step = match (spec.kind.as_str(), spec.api.as_deref()) {
                ("llm", None | Some("chat")) => template().map(Step::Llm),
                ("llm", Some(api)) => Err(format!("`api: {api}` is not supported; `chat` is")),
                ("prompt", _) => template().map(Step::Prompt),
                ("python", _) => native(spec.source.as_ref()),
                (other, _) => Err(format!(
                    "node type `{other}` is not supported (`llm`, `prompt` and `python` tools that name a kernel function are)"
                )),
            };
            match step {
                Ok(step) => nodes.push(Node {
                    name: spec.name,
                    step,
                    inputs: spec.inputs,
                }),
                Err(why) => refused.push(format!("node {:?}: {why}", spec.name)),
            }
        }
        if !refused.is_empty() {
            return Err(config(refused.join("; ")));
        }
        let flow = Self {
            inputs: file
                .inputs
                .into_iter()
                .map(|(k, v)| (k, v.default))
                .collect(),
            outputs: file
                .outputs
                .into_iter()
                .map(|(k, v)| (k, v.reference))
                .collect(),
            nodes: order(nodes).map_err(config)?,
        };
        flow.check_references().map_err(config)?;
        Ok(flow)
    }

    pub fn output_names(&self) -> impl Iterator<Item = &str> {
        self.outputs.keys().map(String::as_str)
    }

    /// Runs the flow on `inputs` (defaults fill what is missing); its outputs by name.
    pub async fn run(
        &self,
        kernel: &Kernel,
        inputs: &Map<String, Value>,
    ) -> Result<Map<String, Value>, KernelError> {
        let mut given = Map::new();
        for (name, default) in &self.inputs {
            let value = inputs.get(name).or(default.as_ref()).ok_or_else(|| {
                KernelError::Config(format!(
                    "the flow's input {name:?} has no value and no default"
                ))
            })?;
            given.insert(name.clone(), value.clone());
        }
        let missing: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|node| match &node.step {
                Step::Native { plugin, function } => kernel
                    .find_function(plugin, function)
                    .err()
                    .map(|_| format!("node {:?}: `{plugin}.{function}`", node.name)),
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            return Err(KernelError::Config(format!(
                "the kernel has no function for {}",
                missing.join("; ")
            )));
        }
        let mut outputs: HashMap<String, Value> = HashMap::new();
        for node in &self.nodes {
            let mut args = Arguments::new();
            let mut settings = ExecutionSettings::default();
            for (name, value) in &node.inputs {
                let value = resolve(value, &given, &outputs)?;
                if SETTINGS.contains(&name.as_str()) {
                    apply_setting(&mut settings, name, &value, &node.name)?;
                } else {
                    args.insert(name.clone(), value);
                }
            }
            let output = match &node.step {
                Step::Native { plugin, function } => {
                    outputs.insert(
                        node.name.clone(),
                        kernel.invoke(plugin, function, args).await?,
                    );
                    continue;
                }
                Step::Prompt(template) => {
                    let messages = render(template, kernel, args).await?.0;
                    messages
                        .into_iter()
                        .map(|m| m.content)
                        .collect::<Vec<_>>()
                        .join("\n\n")
                }
                Step::Llm(template) => {
                    let (messages, defaults) = render(template, kernel, args).await?;
                    let request = ChatRequest {
                        messages,
                        settings: merge(defaults, settings),
                        ..ChatRequest::default()
                    };
                    kernel.chat(request).await?.message.content
                }
            };
            outputs.insert(node.name.clone(), Value::String(output));
        }
        self.outputs
            .iter()
            .map(|(name, reference)| {
                Ok((
                    name.clone(),
                    resolve(&Value::String(reference.clone()), &given, &outputs)?,
                ))
            })
            .collect()
    }

    fn check_references(&self) -> Result<(), String> {
        let nodes: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        let known = |reference: &str, what: &str| -> Result<(), String> {
            match parse_reference(reference) {
                Some(Reference::Input(name)) if !self.inputs.contains_key(name) => Err(format!(
                    "{what} refers to an input {name:?} the flow does not declare"
                )),
                Some(Reference::Output(node, _)) if !nodes.contains(&node) => Err(format!(
                    "{what} refers to a node {node:?} the flow does not have"
                )),
                _ => Ok(()),
            }
        };
        for node in &self.nodes {
            for value in node.inputs.values() {
                if let Some(text) = value.as_str() {
                    known(text, &format!("node {:?}", node.name))?;
                }
            }
        }
        for (name, reference) in &self.outputs {
            if parse_reference(reference).is_none() {
                return Err(format!(
                    "output {name:?}: {reference:?} is not a `${{…}}` reference"
                ));
            }
            known(reference, &format!("output {name:?}"))?;
        }
        Ok(())
    }
}

/// A tool node's kernel function, from Prompt flow's packaged-tool form.
fn native(source: Option<&SourceSpec>) -> Result<Step, String> {
    let tool = match source {
        Some(SourceSpec {
            kind: Some(kind),
            tool: Some(tool),
            ..
        }) if kind == "package" => tool,
        _ => return Err(
            "`python` code cannot run here; name a kernel function instead: `source: {type: package, tool: plugin.function}`"
                .into(),
        ),
    };
    match tool.rsplit_once('.') {
        Some((plugin, function)) if !plugin.is_empty() && !function.is_empty() => {
            Ok(Step::Native {
                plugin: plugin.into(),
                function: function.into(),
            })
        }
        _ => Err(format!(
            "tool {tool:?} does not name a kernel function as `plugin.function`"
        )),
    }
}

fn template(path: &Path) -> Result<Template, KernelError> {
    if path.is_dir() {
        return Ok(Template::Sk(Box::new(PromptFunction::from_directory(
            "flow", path,
        )?)));
    }
    let source = std::fs::read_to_string(path)
        .map_err(|e| KernelError::Config(format!("{}: {e}", path.display())))?;
    let mut parts = Vec::new();
    let mut role = Role::User;
    let mut text = String::new();
    for line in source.lines() {
        match role_line(line) {
            Some(next) => {
                if !text.trim().is_empty() {
                    parts.push((
                        role,
                        PromptTemplate::new(TemplateFormat::Jinja2, text.clone())?,
                    ));
                }
                text.clear();
                role = next;
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    if !text.trim().is_empty() {
        parts.push((role, PromptTemplate::new(TemplateFormat::Jinja2, text)?));
    }
    Ok(Template::Chat(parts))
}

/// `system:`, `# user:`, `Assistant:` alone on a line: where Prompt flow's chat format starts a
/// message.
fn role_line(line: &str) -> Option<Role> {
    let word = line
        .trim()
        .trim_start_matches('#')
        .trim()
        .strip_suffix(':')?;
    match word.to_ascii_lowercase().as_str() {
        "system" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        _ => None,
    }
}

async fn render(
    template: &Template,
    kernel: &Kernel,
    args: Arguments,
) -> Result<(Vec<ChatMessage>, ExecutionSettings), KernelError> {
    match template {
        Template::Sk(function) => {
            let request = function.request(kernel, args).await?;
            Ok((request.messages, request.settings))
        }
        Template::Chat(parts) => {
            let mut messages = Vec::new();
            for (role, part) in parts {
                let text = part.render(kernel, &args).await?;
                messages.push(ChatMessage::new(*role, decode(text.trim())));
            }
            Ok((messages, ExecutionSettings::default()))
        }
    }
}

/// The node's own settings over its template's defaults.
fn merge(defaults: ExecutionSettings, node: ExecutionSettings) -> ExecutionSettings {
    ExecutionSettings {
        max_tokens: node.max_tokens.or(defaults.max_tokens),
        temperature: node.temperature.or(defaults.temperature),
        top_p: node.top_p.or(defaults.top_p),
        presence_penalty: node.presence_penalty.or(defaults.presence_penalty),
        frequency_penalty: node.frequency_penalty.or(defaults.frequency_penalty),
        stop: if node.stop.is_empty() {
            defaults.stop
        } else {
            node.stop
        },
        ..defaults
    }
}

fn apply_setting(
    settings: &mut ExecutionSettings,
    name: &str,
    value: &Value,
    node: &str,
) -> Result<(), KernelError> {
    let number = || {
        value.as_f64().ok_or_else(|| {
            KernelError::Config(format!(
                "node {node:?}: `{name}` must be a number, not {value}"
            ))
        })
    };
    match name {
        "temperature" => settings.temperature = Some(number()? as f32),
        "top_p" => settings.top_p = Some(number()? as f32),
        "presence_penalty" => settings.presence_penalty = Some(number()? as f32),
        "frequency_penalty" => settings.frequency_penalty = Some(number()? as f32),
        "max_tokens" => settings.max_tokens = Some(number()? as u32),
        "stop" => {
            settings.stop = match value {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            }
        }
        _ => {} // deployment_name, model: the kernel's model answers
    }
    Ok(())
}

enum Reference<'a> {
    Input(&'a str),
    /// A node's output, and the path into it when it is JSON.
    Output(&'a str, Vec<&'a str>),
}

fn parse_reference(text: &str) -> Option<Reference<'_>> {
    let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
    let mut parts = inner.split('.');
    let head = parts.next()?;
    if head == "inputs" {
        return Some(Reference::Input(parts.next()?));
    }
    (parts.next()? == "output").then(|| Reference::Output(head, parts.collect()))
}

/// A node input's value: a reference replaced by what it refers to, a literal as it is.
fn resolve(
    value: &Value,
    inputs: &Map<String, Value>,
    outputs: &HashMap<String, Value>,
) -> Result<Value, KernelError> {
    let Some(reference) = value.as_str().and_then(parse_reference) else {
        return Ok(value.clone());
    };
    match reference {
        Reference::Input(name) => Ok(inputs.get(name).cloned().unwrap_or(Value::Null)),
        Reference::Output(node, path) => {
            let output = outputs.get(node).cloned().unwrap_or(Value::Null);
            if path.is_empty() {
                return Ok(output);
            }
            // A field of an output: a model's text is read as JSON; a function's already is.
            let mut json: Value = match output {
                Value::String(text) => serde_json::from_str(&text).map_err(|e| {
                    KernelError::BadResponse(format!(
                        "node {node:?} did not write JSON for `{}`: {e}",
                        path.join(".")
                    ))
                })?,
                json => json,
            };
            for key in path {
                json = json.get(key).cloned().unwrap_or(Value::Null);
            }
            Ok(json)
        }
    }
}

/// The nodes in an order where each runs after the nodes it refers to; a cycle is refused.
fn order(nodes: Vec<Node>) -> Result<Vec<Node>, String> {
    let mut pending = nodes;
    let mut ordered: Vec<Node> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|node| {
            node.inputs
                .values()
                .all(|v| match v.as_str().and_then(parse_reference) {
                    Some(Reference::Output(from, _)) => {
                        ordered.iter().any(|n| n.name == from)
                            || !pending.iter().any(|n| n.name == from)
                    }
                    _ => true,
                })
        });
        match ready {
            Some(i) => ordered.push(pending.remove(i)),
            None => {
                let names: Vec<&str> = pending.iter().map(|n| n.name.as_str()).collect();
                return Err(format!(
                    "the nodes {names:?} refer to each other in a cycle"
                ));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_lines_are_read_as_prompt_flow_writes_them() {
        assert_eq!(role_line("system:"), Some(Role::System));
        assert_eq!(role_line("# User:"), Some(Role::User));
        assert_eq!(role_line("  assistant:  "), Some(Role::Assistant));
        assert_eq!(role_line("system: be brief"), None);
    }

    #[test]
    fn references_name_inputs_outputs_and_fields() {
        assert!(matches!(
            parse_reference("${inputs.question}"),
            Some(Reference::Input("question"))
        ));
        assert!(matches!(parse_reference("${classify.output.total}"),
            Some(Reference::Output("classify", path)) if path == ["total"]));
        assert!(parse_reference("plain text").is_none());
    }
}
