//! The [`Kernel`]: the chat model, the plugins, the filters, the ledger and the cache, and the
//! operations that combine them.

use std::{collections::BTreeMap, sync::Arc};

use futures::StreamExt;
use serde_json::Value;
use tracing::Instrument;

use crate::{
    cache::ResponseCache,
    chat::{
        collect_stream, ChatDelta, ChatMessage, ChatModel, ChatRequest, ChatResponse, ChatStream,
        FinishReason, ToolCall, ToolSpec,
    },
    filter::Filter,
    function::{Arguments, KernelFunction, Plugin},
    limits::UsageLimits,
    template::PromptTemplate,
    usage::{UsageLedger, UsageRecord},
    KernelError,
};

struct Inner {
    chat: Option<Arc<dyn ChatModel>>,
    functions: BTreeMap<(String, String), Arc<dyn KernelFunction>>,
    filters: Vec<Arc<dyn Filter>>,
    ledger: Arc<UsageLedger>,
    limits: Arc<UsageLimits>,
    cache: Option<Arc<ResponseCache>>,
}

/// Cheap to clone; [`Kernel::for_user`] and [`Kernel::for_run`] give a clone whose calls are
/// recorded under a user (and a run) and held to that user's [`UsageLimits`].
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
    run_id: Option<String>,
    user_id: Option<String>,
}

#[derive(Default)]
pub struct KernelBuilder {
    chat: Option<Arc<dyn ChatModel>>,
    plugins: Vec<Plugin>,
    filters: Vec<Arc<dyn Filter>>,
    ledger: Option<Arc<UsageLedger>>,
    limits: Option<Arc<UsageLimits>>,
    cache: Option<Arc<ResponseCache>>,
}

impl KernelBuilder {
    pub fn chat_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.chat = Some(model);
        self
    }
    pub fn plugin(mut self, plugin: Plugin) -> Self {
        self.plugins.push(plugin);
        self
    }
    pub fn filter(mut self, filter: Arc<dyn Filter>) -> Self {
        self.filters.push(filter);
        self
    }
    pub fn ledger(mut self, ledger: Arc<UsageLedger>) -> Self {
        self.ledger = Some(ledger);
        self
    }
    /// Per-user limits; kernels sharing them (and their ledger) share each user's budget.
    pub fn limits(mut self, limits: Arc<UsageLimits>) -> Self {
        self.limits = Some(limits);
        self
    }
    pub fn cache(mut self, cache: Arc<ResponseCache>) -> Self {
        self.cache = Some(cache);
        self
    }
    pub fn build(self) -> Kernel {
        let functions = self
            .plugins
            .into_iter()
            .flat_map(|p| p.functions)
            .map(|f| ((f.plugin().to_string(), f.name().to_string()), f))
            .collect();
        Kernel {
            inner: Arc::new(Inner {
                chat: self.chat,
                functions,
                filters: self.filters,
                ledger: self.ledger.unwrap_or_default(),
                limits: self.limits.unwrap_or_default(),
                cache: self.cache,
            }),
            run_id: None,
            user_id: None,
        }
    }
}

fn tool_name(f: &dyn KernelFunction) -> String {
    f.signature().tool_name()
}

impl Kernel {
    pub fn builder() -> KernelBuilder {
        KernelBuilder::default()
    }

    /// Calls made for `user_id`: recorded under them and held to their limits.
    pub fn for_user(&self, user_id: &str) -> Self {
        Self {
            user_id: Some(user_id.into()),
            ..self.clone()
        }
    }

    pub fn for_run(&self, run_id: &str, user_id: &str) -> Self {
        Self {
            run_id: Some(run_id.into()),
            user_id: Some(user_id.into()),
            ..self.clone()
        }
    }

    pub fn ledger(&self) -> &UsageLedger {
        &self.inner.ledger
    }

    /// The user this kernel's calls are made for, if any.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// This kernel with `plugins` added: the same model, filters, ledger, limits and cache, so
    /// a service can offer its own functions as tools without building the model stack again.
    pub fn with_plugins(&self, plugins: Vec<Plugin>) -> Self {
        let mut functions = self.inner.functions.clone();
        functions.extend(
            plugins
                .into_iter()
                .flat_map(|p| p.functions)
                .map(|f| ((f.plugin().to_string(), f.name().to_string()), f)),
        );
        Self {
            inner: Arc::new(Inner {
                chat: self.inner.chat.clone(),
                functions,
                filters: self.inner.filters.clone(),
                ledger: self.inner.ledger.clone(),
                limits: self.inner.limits.clone(),
                cache: self.inner.cache.clone(),
            }),
            ..self.clone()
        }
    }

    pub fn chat_model(&self) -> Result<&Arc<dyn ChatModel>, KernelError> {
        self.inner
            .chat
            .as_ref()
            .ok_or_else(|| KernelError::Config("this kernel has no chat model".into()))
    }

    pub fn functions(&self) -> Vec<Arc<dyn KernelFunction>> {
        self.inner.functions.values().cloned().collect()
    }

    /// Finds `plugin.name`; with an empty plugin, the only function of that name.
    pub fn find_function(
        &self,
        plugin: &str,
        name: &str,
    ) -> Result<Arc<dyn KernelFunction>, KernelError> {
        if plugin.is_empty() {
            let mut matches = self.inner.functions.iter().filter(|((_, n), _)| n == name);
            return match (matches.next(), matches.next()) {
                (Some((_, f)), None) => Ok(f.clone()),
                (Some(_), Some(_)) => Err(KernelError::FunctionNotFound(format!(
                    "{name} (ambiguous: name its plugin)"
                ))),
                _ => Err(KernelError::FunctionNotFound(name.into())),
            };
        }
        self.inner
            .functions
            .get(&(plugin.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| KernelError::FunctionNotFound(format!("{plugin}.{name}")))
    }

    /// The tool specs of every function, for a tool-calling request.
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        self.inner
            .functions
            .values()
            .map(|f| ToolSpec {
                name: tool_name(f.as_ref()),
                description: f.description().into(),
                parameters: f.parameters().clone(),
            })
            .collect()
    }

    /// Invokes a function with the filters around it.
    pub async fn invoke_function(
        &self,
        function: &Arc<dyn KernelFunction>,
        mut args: Arguments,
    ) -> Result<Value, KernelError> {
        let name = tool_name(function.as_ref());
        let span = tracing::info_span!("kernel.function", function = %name);
        async {
            for filter in &self.inner.filters {
                filter.function_invoking(&name, &mut args).await?;
            }
            let mut result = function.run(self, args).await?;
            for filter in &self.inner.filters {
                filter.function_invoked(&name, &mut result).await?;
            }
            Ok(result)
        }
        .instrument(span)
        .await
    }

    pub async fn invoke(
        &self,
        plugin: &str,
        name: &str,
        args: Arguments,
    ) -> Result<Value, KernelError> {
        let function = self.find_function(plugin, name)?;
        self.invoke_function(&function, args).await
    }

    /// Renders a template with the prompt filters applied.
    pub async fn render(
        &self,
        template: &PromptTemplate,
        function: &str,
        args: &Arguments,
    ) -> Result<String, KernelError> {
        let mut prompt = template.render(self, args).await?;
        for filter in &self.inner.filters {
            filter.prompt_rendered(function, &mut prompt).await?;
        }
        Ok(prompt)
    }

    /// Holds a call made for a user to their limits; other calls are the system's own.
    fn admit(&self) -> Result<(), KernelError> {
        match &self.user_id {
            Some(user) => self.inner.limits.admit(user, &self.inner.ledger),
            None => Ok(()),
        }
    }

    fn record(&self, model: &str, response: &ChatResponse, streamed: bool, cached: bool) {
        self.inner.ledger.record(UsageRecord {
            model: model.into(),
            run_id: self.run_id.clone(),
            user_id: self.user_id.clone(),
            usage: if cached {
                Default::default()
            } else {
                response.usage
            },
            cost: 0.0,
            streamed,
            cached,
        });
    }

    /// One chat call: served from the cache when an identical call was answered before, and
    /// recorded in the ledger either way.
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, KernelError> {
        let model = self.chat_model()?;
        self.admit()?;
        let key = self
            .inner
            .cache
            .as_ref()
            .map(|_| ResponseCache::key(model.model_id(), &request));
        if let (Some(cache), Some(key)) = (&self.inner.cache, &key) {
            let hit = cache.get(key);
            metrics::counter!(
                "gen_ai_cache_requests_total",
                "model" => model.model_id().to_string(),
                "outcome" => if hit.is_some() { "hit" } else { "miss" },
            )
            .increment(1);
            if let Some(hit) = hit {
                self.record(model.model_id(), &hit, false, true);
                return Ok(hit);
            }
        }
        let response = model.chat(&request).await?;
        self.record(model.model_id(), &response, false, false);
        // An answer cut off at max_tokens is not kept: served again, it would fail the same way
        // for every retry of the same call.
        if let (Some(cache), Some(key)) = (&self.inner.cache, key) {
            if response.finish_reason != FinishReason::Length {
                cache.put(key, response.clone());
            }
        }
        Ok(response)
    }

    /// A streamed chat call; usage is recorded when the stream finishes.
    pub async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, KernelError> {
        let model = self.chat_model()?.clone();
        self.admit()?;
        let stream = model.chat_stream(&request).await?;
        let kernel = self.clone();
        Ok(stream
            .inspect(move |delta| {
                if let Ok(ChatDelta::Finished {
                    finish_reason,
                    usage,
                }) = delta
                {
                    let response = ChatResponse {
                        message: ChatMessage::assistant(""),
                        finish_reason: *finish_reason,
                        usage: *usage,
                        model: model.model_id().into(),
                    };
                    kernel.record(model.model_id(), &response, true, false);
                }
            })
            .boxed())
    }

    /// A streamed call collected into a response (same result as [`Kernel::chat`], streamed transport).
    pub async fn chat_streamed(&self, request: ChatRequest) -> Result<ChatResponse, KernelError> {
        let model_id = self.chat_model()?.model_id().to_string();
        collect_stream(&model_id, self.chat_stream(request).await?).await
    }

    /// Auto-invoked tool calling: offers every function as a tool, runs the calls the model asks
    /// for (concurrently), feeds the results back, and repeats until the model answers or
    /// `max_iterations` rounds have run — then asks once more without tools for a final answer.
    /// A failing or denied tool becomes an error message to the model, never a failed loop.
    pub async fn chat_with_tools(
        &self,
        mut request: ChatRequest,
        max_iterations: u32,
    ) -> Result<ChatResponse, KernelError> {
        request.tools = self.tool_specs();
        for _ in 0..max_iterations {
            let response = self.chat(request.clone()).await?;
            if response.message.tool_calls.is_empty() {
                return Ok(response);
            }
            self.answer_tool_calls(&mut request, response.message).await;
        }
        request.tools.clear();
        self.chat(request).await
    }

    /// [`Kernel::chat_with_tools`] over the streamed transport: `on_text` receives the words as
    /// the model writes them, in every round. Returns the final answer's text and each tool
    /// call made on the way, in order.
    pub async fn chat_stream_with_tools(
        &self,
        mut request: ChatRequest,
        max_iterations: u32,
        mut on_text: impl FnMut(&str) + Send,
    ) -> Result<(String, Vec<ToolOutcome>), KernelError> {
        request.tools = self.tool_specs();
        let mut outcomes = Vec::new();
        let mut round = 0;
        loop {
            if round == max_iterations {
                request.tools.clear();
            }
            round += 1;
            let mut stream = self.chat_stream(request.clone()).await?;
            let mut message = ChatMessage::assistant("");
            while let Some(delta) = stream.next().await {
                match delta? {
                    ChatDelta::Text(text) => {
                        on_text(&text);
                        message.content.push_str(&text);
                    }
                    ChatDelta::ToolCall(call) => message.tool_calls.push(call),
                    ChatDelta::Finished { .. } => {}
                }
            }
            // Offered no tools, a model that still asks for one has given its final answer.
            if message.tool_calls.is_empty() || request.tools.is_empty() {
                return Ok((message.content, outcomes));
            }
            outcomes.extend(self.answer_tool_calls(&mut request, message).await);
        }
    }

    /// Runs the tool calls of the model's `message` and appends it and their results to
    /// `request`, for the model's next round.
    async fn answer_tool_calls(
        &self,
        request: &mut ChatRequest,
        message: ChatMessage,
    ) -> Vec<ToolOutcome> {
        let calls = message.tool_calls.clone();
        request.messages.push(message);
        let outcomes =
            futures::future::join_all(calls.into_iter().map(|call| self.run_tool(call))).await;
        for outcome in &outcomes {
            request
                .messages
                .push(ChatMessage::tool_result(&outcome.call.id, outcome.shown()));
        }
        outcomes
    }

    /// Runs one tool call, through the filters: a tool the model named wrongly, gave bad
    /// arguments, or a filter denied, is an outcome the model is told about.
    pub async fn run_tool(&self, call: ToolCall) -> ToolOutcome {
        let result = self.tool_result(&call).await;
        ToolOutcome { call, result }
    }

    async fn tool_result(&self, call: &ToolCall) -> Result<String, String> {
        let (plugin, name) = call
            .name
            .split_once('-')
            .unwrap_or(("", call.name.as_str()));
        let function = self
            .find_function(plugin, name)
            .map_err(|e| e.to_string())?;
        let args: Arguments = match serde_json::from_str::<Value>(&call.arguments) {
            Ok(Value::Object(map)) => map.into_iter().collect(),
            Ok(_) => return Err("arguments must be a JSON object".into()),
            Err(e) => return Err(format!("arguments are not valid JSON: {e}")),
        };
        match self.invoke_function(&function, args).await {
            Ok(Value::String(s)) => Ok(s),
            Ok(v) => Ok(v.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A tool call and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub call: ToolCall,
    /// The function's result, or why there is none.
    pub result: Result<String, String>,
}

impl ToolOutcome {
    /// The outcome as the model reads it.
    pub fn shown(&self) -> String {
        match &self.result {
            Ok(text) => text.clone(),
            Err(e) => format!("error: {e}"),
        }
    }
}
