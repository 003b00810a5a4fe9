//! Streamed answers: server-sent `chat.completion.chunk` events read on their own task and
//! turned into [`ChatDelta`]s, tool calls reassembled from their fragments.

use std::{collections::BTreeMap, time::Duration};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use tracing::Instrument;

use super::{parse, wire};
use crate::{
    chat::{channel_stream, ChatDelta, ChatStream, ToolCall, Usage},
    KernelError,
};

/// Reads the event stream of a successful response on a new task. `timeout` applies between
/// chunks: a stalled stream fails instead of hanging.
pub(super) fn read(
    response: reqwest::Response,
    timeout: Duration,
    span: tracing::Span,
    model: String,
) -> ChatStream {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(
        async move {
            let mut events = response.bytes_stream().eventsource();
            let mut assembler = StreamAssembler::default();
            loop {
                let next = match tokio::time::timeout(timeout, events.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        let _ = tx.send(Err(KernelError::Timeout(timeout))).await;
                        return;
                    }
                };
                let outcome = match next {
                    None => assembler.finish(),
                    Some(Err(e)) => Err(KernelError::BadResponse(format!(
                        "broken event stream: {e}"
                    ))),
                    Some(Ok(event)) if event.data.trim() == "[DONE]" => assembler.finish(),
                    Some(Ok(event)) => match assembler.push(&event.data) {
                        Ok(deltas) => {
                            for delta in deltas {
                                if tx.send(Ok(delta)).await.is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        Err(e) => Err(e),
                    },
                };
                match outcome {
                    Ok(deltas) => {
                        if let Some(ChatDelta::Finished {
                            finish_reason,
                            usage,
                        }) = deltas.last()
                        {
                            crate::telemetry::record_usage(
                                &tracing::Span::current(),
                                &model,
                                *usage,
                                *finish_reason,
                            );
                        }
                        for delta in deltas {
                            let _ = tx.send(Ok(delta)).await;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                    }
                }
                return;
            }
        }
        .instrument(span),
    );
    channel_stream(rx)
}

/// Turns streamed chunks into deltas. Tool calls arrive in fragments keyed by `index` — the id
/// and name first, the JSON arguments split across many chunks — and are emitted whole at the end.
#[derive(Default)]
struct StreamAssembler {
    tool_calls: BTreeMap<usize, (Option<String>, String, String)>,
    finish: Option<String>,
    usage: Option<Usage>,
    text_chars: usize,
}

impl StreamAssembler {
    fn push(&mut self, data: &str) -> Result<Vec<ChatDelta>, KernelError> {
        let chunk: wire::ChatCompletion = parse(data)?;
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let mut deltas = Vec::new();
        for choice in chunk.choices {
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason);
            }
            let Some(delta) = choice.delta else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                self.text_chars += text.len();
                deltas.push(ChatDelta::Text(text));
            }
            for (position, fragment) in delta.tool_calls.into_iter().enumerate() {
                let entry = self
                    .tool_calls
                    .entry(fragment.index.unwrap_or(position))
                    .or_default();
                if let Some(id) = fragment.id {
                    entry.0 = Some(id);
                }
                if let Some(function) = fragment.function {
                    entry.1.push_str(&function.name.unwrap_or_default());
                    entry.2.push_str(&function.arguments.unwrap_or_default());
                }
            }
        }
        Ok(deltas)
    }

    fn finish(&mut self) -> Result<Vec<ChatDelta>, KernelError> {
        let mut deltas = Vec::new();
        for (index, (id, name, arguments)) in std::mem::take(&mut self.tool_calls) {
            if name.is_empty() {
                return Err(KernelError::BadResponse(format!(
                    "streamed tool call {index} has no name"
                )));
            }
            let arguments = if arguments.trim().is_empty() {
                "{}".to_string()
            } else {
                arguments
            };
            deltas.push(ChatDelta::ToolCall(ToolCall {
                id: id.unwrap_or_else(|| format!("call_{index}")),
                name,
                arguments,
            }));
        }
        let has_tools = !deltas.is_empty();
        // Servers that ignore `stream_options.include_usage` get an estimate rather than zero.
        let usage = self.usage.unwrap_or(Usage {
            prompt_tokens: 0,
            completion_tokens: (self.text_chars / 4) as u32,
        });
        deltas.push(ChatDelta::Finished {
            finish_reason: wire::finish_reason(self.finish.as_deref(), has_tools),
            usage,
        });
        Ok(deltas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::FinishReason;

    #[test]
    fn tool_call_fragments_are_assembled_by_index() {
        let mut a = StreamAssembler::default();
        let chunks = [
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"math-add","arguments":""}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"clock-now","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":"tool_calls"}]}"#,
        ];
        for c in chunks {
            assert!(a.push(c).unwrap().is_empty());
        }
        let done = a.finish().unwrap();
        assert_eq!(
            done[0],
            ChatDelta::ToolCall(ToolCall {
                id: "c1".into(),
                name: "math-add".into(),
                arguments: r#"{"a":1}"#.into()
            })
        );
        assert!(
            matches!(done[1], ChatDelta::ToolCall(ToolCall { ref name, .. }) if name == "clock-now")
        );
        assert!(matches!(
            done[2],
            ChatDelta::Finished {
                finish_reason: FinishReason::ToolCalls,
                ..
            }
        ));
    }
}
