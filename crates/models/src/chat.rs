//! Chat with a local GGUF model (SmolLM2-135M-Instruct by default, any Llama-architecture GGUF
//! with a byte-level BPE tokenizer): prompt built with the model's own chat template, prefill,
//! then token-by-token decoding with the KV cache, sampling, stop sequences and streaming.
//!
//! One model instance is shared; requests take turns on it (a mutex held by a blocking thread),
//! so concurrent requests queue and never see each other's KV cache. The queue is bounded and a
//! caller that goes away stops its generation ([`crate::queue`]).

use std::{
    fs::File,
    path::Path,
    sync::{atomic::Ordering, Arc, Mutex},
    time::Instant,
};

use anyhow::Context;
use async_trait::async_trait;
use candle_core::{quantized::gguf_file, Device, Tensor};
use candle_transformers::{
    generation::{LogitsProcessor, Sampling},
    utils::apply_repeat_penalty,
};
use miyagi_kernel::{
    chat::{ChatDelta, ChatStream, FinishReason, ResponseFormat, Usage},
    telemetry, ChatMessage, ChatModel, ChatRequest, ChatResponse, KernelError, Role,
};
use tokenizers::Tokenizer;

use crate::{
    constrained::Constraint,
    gguf_tokenizer::{from_gguf, metadata_string, metadata_u32},
    llama::Llama,
    queue::{Cancel, Queue, DEFAULT_QUEUE_LIMIT},
};

/// ChatML, for GGUFs that carry no template of their own.
const CHATML: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const DEFAULT_MAX_TOKENS: u32 = 256;
/// Tokens looked back on for the repetition penalty: tiny models loop without one.
const REPEAT_WINDOW: usize = 64;

#[derive(Clone)]
pub struct LocalChat {
    engine: Arc<Engine>,
    queue: Arc<Queue>,
}

struct Engine {
    id: String,
    model: Mutex<Llama>,
    tokenizer: Tokenizer,
    template: String,
    bos: String,
    eos: String,
    stop_ids: Vec<u32>,
    context_length: usize,
    /// The bytes each token stands for (`None` for control tokens), for constrained decoding.
    token_bytes: Vec<Option<Vec<u8>>>,
}

/// What generation produced.
pub struct Generated {
    pub text: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

impl LocalChat {
    pub fn load(gguf: &Path) -> anyhow::Result<Self> {
        let mut file = File::open(gguf).with_context(|| format!("opening {}", gguf.display()))?;
        let content = gguf_file::Content::read(&mut file)
            .with_context(|| format!("{} is not a GGUF file", gguf.display()))?;
        let tokenizer = from_gguf(&content)?;
        let template =
            metadata_string(&content, "tokenizer.chat_template").unwrap_or_else(|| CHATML.into());
        let token =
            |key: &str| metadata_u32(&content, key).and_then(|id| tokenizer.id_to_token(id));
        let bos = token("tokenizer.ggml.bos_token_id").unwrap_or_default();
        let eos = token("tokenizer.ggml.eos_token_id").unwrap_or_default();
        let mut stop_ids: Vec<u32> = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", eos.as_str()]
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        stop_ids.dedup();
        let architecture =
            metadata_string(&content, "general.architecture").unwrap_or_else(|| "llama".into());
        let context_length = metadata_u32(&content, &format!("{architecture}.context_length"))
            .unwrap_or(2048) as usize;
        // Named after the file (or its folder, for the cache's `model.gguf`): ids must be
        // stable and URL-safe, which GGUF's free-text `general.name` is not.
        let stem = gguf
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("local-gguf");
        let id = match stem {
            "model" => gguf
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|n| n.to_str())
                .unwrap_or(stem),
            other => other,
        }
        .to_string();
        let model = load_weights(content, &mut file).context("loading GGUF weights")?;
        let tokenizer_for_bytes = tokenizer.clone();
        Ok(Self {
            engine: Arc::new(Engine {
                id,
                model: Mutex::new(model),
                tokenizer,
                template,
                bos,
                eos,
                token_bytes: token_bytes(&tokenizer_for_bytes),
                stop_ids,
                context_length,
            }),
            queue: Queue::new(DEFAULT_QUEUE_LIMIT),
        })
    }

    /// The same model behind a queue of its own that admits at most `limit` requests at once
    /// (waiting or generating); more are refused with [`KernelError::RateLimited`].
    pub fn with_queue_limit(self, limit: usize) -> Self {
        Self {
            queue: Queue::new(limit),
            ..self
        }
    }

    /// The prompt text the model sees for `messages`, through its chat template.
    pub fn prompt(&self, messages: &[ChatMessage]) -> anyhow::Result<String> {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| {
                // Small local models have no tool role: tool results reach them as user text.
                let (role, content) = match m.role {
                    Role::System => ("system", m.content.clone()),
                    Role::User => ("user", m.content.clone()),
                    Role::Assistant => ("assistant", m.content.clone()),
                    Role::Tool => ("user", format!("Tool result: {}", m.content)),
                };
                serde_json::json!({"role": role, "content": content})
            })
            .collect();
        let mut env = minijinja::Environment::new();
        env.add_template("chat", &self.engine.template)?;
        Ok(env.get_template("chat")?.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => self.engine.bos,
            eos_token => self.engine.eos,
        })?)
    }

    /// Generates synchronously; `on_text` receives each new piece of text and may stop
    /// generation by returning `false` (a client that went away).
    pub fn generate(
        &self,
        request: &ChatRequest,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generated, KernelError> {
        let engine = &self.engine;
        let span = telemetry::model_span("chat", "miyagi.local", &engine.id);
        let _in_span = span.enter();
        let failed =
            |e: &dyn std::fmt::Display| KernelError::BadResponse(format!("local model: {e}"));
        let prompt = self
            .prompt(&request.messages)
            .map_err(|e| KernelError::Template(format!("chat template: {e}")))?;
        let prompt_ids = engine
            .tokenizer
            .encode(prompt, false)
            .map_err(|e| failed(&e))?
            .get_ids()
            .to_vec();
        let settings = &request.settings;
        let max_tokens = settings.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize;
        if prompt_ids.len() + max_tokens > engine.context_length {
            return Err(KernelError::ContextTooLong(format!(
                "{} prompt tokens + {max_tokens} max_tokens exceed the model's {} token context",
                prompt_ids.len(),
                engine.context_length
            )));
        }
        let sampling = match (settings.temperature, settings.top_k, settings.top_p) {
            (None, ..) => Sampling::ArgMax,
            (Some(t), ..) if t <= 0.0 => Sampling::ArgMax,
            (Some(t), Some(k), Some(p)) if p < 1.0 => Sampling::TopKThenTopP {
                k: k as usize,
                p: f64::from(p),
                temperature: f64::from(t),
            },
            (Some(t), Some(k), _) => Sampling::TopK {
                k: k as usize,
                temperature: f64::from(t),
            },
            (Some(t), None, Some(p)) if p < 1.0 => Sampling::TopP {
                p: f64::from(p),
                temperature: f64::from(t),
            },
            (Some(t), None, _) => Sampling::All {
                temperature: f64::from(t),
            },
        };
        let mut sampler =
            LogitsProcessor::from_sampling(settings.seed.unwrap_or_else(rand_seed), sampling);
        let mut constraint = constraint_for(settings.response_format.as_ref())?;
        // Under a constraint the penalty is the caller's choice: it changes how long a
        // constrained answer runs, which its token budget was sized for.
        let repeat_penalty = match (&constraint, settings.frequency_penalty) {
            (Some(_), None) => 1.0,
            (_, penalty) => 1.0 + penalty.unwrap_or(0.1),
        };
        let stops = &settings.stop;
        let holdback = stops
            .iter()
            .map(|s| s.len())
            .max()
            .unwrap_or(1)
            .saturating_sub(1);

        // Callers take turns on the one model: the wait for it is the queue's.
        let waiting = Instant::now();
        let mut model = engine
            .model
            .lock()
            .map_err(|_| failed(&"model lock poisoned by an earlier panic"))?;
        metrics::histogram!("local_model_queue_wait_seconds", "model" => engine.id.clone())
            .record(waiting.elapsed());
        let mut first_token_at = None;
        let device = Device::Cpu;
        let mut input = prompt_ids.clone();
        let mut position = 0;
        let mut generated: Vec<u32> = Vec::new();
        if let Some(c) = constraint.as_mut() {
            force(engine, c, max_tokens, &mut input, &mut generated);
        }
        let mut text = String::new();
        let mut emitted = 0;
        let mut finish_reason = FinishReason::Length;
        while generated.len() < max_tokens {
            let tensor = Tensor::new(input.as_slice(), &device)
                .and_then(|t| t.unsqueeze(0))
                .map_err(|e| failed(&e))?;
            let logits = model
                .forward(&tensor, position)
                .and_then(|l| l.squeeze(0))
                .map_err(|e| failed(&e))?;
            position += input.len();
            let logits = if repeat_penalty != 1.0 {
                let start = generated.len().saturating_sub(REPEAT_WINDOW);
                // Under a constraint only words are penalised: the structure it requires (`"`,
                // `:`, `,`) repeats by design.
                let repeated: Vec<u32> = generated[start..]
                    .iter()
                    .copied()
                    .filter(|id| constraint.is_none() || is_word(&engine.token_bytes, *id))
                    .collect();
                apply_repeat_penalty(&logits, repeat_penalty, &repeated).map_err(|e| failed(&e))?
            } else {
                logits
            };
            let logits = match &constraint {
                Some(c) => {
                    let (masked, any) = mask(&logits, c, &engine.token_bytes, &engine.stop_ids)
                        .map_err(|e| failed(&e))?;
                    if !any {
                        finish_reason = FinishReason::Stop;
                        break;
                    }
                    masked
                }
                None => logits,
            };
            let next = sampler.sample(&logits).map_err(|e| failed(&e))?;
            if let (Some(c), Some(Some(bytes))) =
                (constraint.as_mut(), engine.token_bytes.get(next as usize))
            {
                c.accept(bytes);
            }
            if engine.stop_ids.contains(&next) {
                finish_reason = FinishReason::Stop;
                break;
            }
            generated.push(next);
            first_token_at.get_or_insert_with(Instant::now);
            input = vec![next];
            if let Some(c) = constraint.as_mut() {
                force(engine, c, max_tokens, &mut input, &mut generated);
            }
            let decoded = engine
                .tokenizer
                .decode(&generated, true)
                .map_err(|e| failed(&e))?;
            // A multi-byte character split across tokens decodes to U+FFFD until it completes.
            if decoded.ends_with('\u{FFFD}') {
                continue;
            }
            text = decoded;
            if let Some(cut) = stops.iter().filter_map(|s| text.find(s.as_str())).min() {
                text.truncate(cut);
                finish_reason = FinishReason::Stop;
                break;
            }
            // Hold back what could still become a stop sequence.
            let mut safe = text.len().saturating_sub(holdback);
            while !text.is_char_boundary(safe) {
                safe -= 1;
            }
            if safe > emitted {
                if !on_text(&text[emitted..safe]) {
                    finish_reason = FinishReason::Stop;
                    break;
                }
                emitted = safe;
            }
        }
        if text.len() > emitted {
            on_text(&text[emitted..]);
        }
        let usage = Usage {
            prompt_tokens: prompt_ids.len() as u32,
            completion_tokens: generated.len() as u32,
        };
        telemetry::record_usage(&span, &engine.id, usage, finish_reason);
        if let (Some(first), true) = (first_token_at, generated.len() > 1) {
            // Decoding speed alone, without the prompt's pass, so it reads as tokens/s.
            metrics::histogram!("gen_ai_server_time_per_output_token_seconds", "model" => engine.id.clone())
                .record(first.elapsed().as_secs_f64() / (generated.len() - 1) as f64);
        }
        Ok(Generated {
            text,
            finish_reason,
            usage,
        })
    }
}

/// Whether token `id` spells (part of) a word rather than only punctuation and spaces.
fn is_word(token_bytes: &[Option<Vec<u8>>], id: u32) -> bool {
    token_bytes
        .get(id as usize)
        .and_then(Option::as_ref)
        .is_some_and(|bytes| bytes.iter().any(u8::is_ascii_alphabetic))
}

/// Appends the tokens that spell what `constraint` forces next to the model's next pass and to
/// the output, so they cost a share of one pass (as a prompt's tokens do) instead of a pass
/// each: a schema's keys, the rest of a quote once only one quotable sentence fits. The last
/// forced token is left to the model, so free text after it starts at a token boundary the model
/// chooses. Nothing is forced where the tokens would not spell the bytes exactly.
fn force(
    engine: &Engine,
    constraint: &mut Constraint,
    max_tokens: usize,
    input: &mut Vec<u32>,
    generated: &mut Vec<u32>,
) {
    let forced = constraint.forced();
    let text = match std::str::from_utf8(&forced) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&forced[..e.valid_up_to()]).unwrap_or_default(),
    };
    if text.is_empty() {
        return;
    }
    let Ok(encoding) = engine.tokenizer.encode(text, false) else {
        return;
    };
    let mut ids = encoding.get_ids().to_vec();
    ids.pop();
    ids.truncate(max_tokens.saturating_sub(generated.len() + 1));
    let spelled: Option<Vec<u8>> = ids
        .iter()
        .map(|id| engine.token_bytes.get(*id as usize).cloned().flatten())
        .collect::<Option<Vec<_>>>()
        .map(|parts| parts.concat());
    let Some(spelled) = spelled.filter(|bytes| forced.starts_with(bytes)) else {
        return;
    };
    constraint.accept(&spelled);
    input.extend_from_slice(&ids);
    generated.extend(ids);
}

fn constraint_for(format: Option<&ResponseFormat>) -> Result<Option<Constraint>, KernelError> {
    let built = match format {
        None | Some(ResponseFormat::Text) => return Ok(None),
        Some(ResponseFormat::JsonObject) => Constraint::any_json(),
        Some(ResponseFormat::JsonSchema { schema, .. }) => Constraint::json_schema(schema),
        Some(ResponseFormat::Regex { pattern }) => Constraint::regex(pattern),
        Some(ResponseFormat::Choice { options }) => Constraint::choice(options),
    };
    built
        .map(Some)
        .map_err(|e| KernelError::Config(format!("response_format: {e:#}")))
}

/// Logits with every token that would break the constraint set to -inf; end-of-sequence stays
/// only once the output is complete. The flag says whether any token is left.
fn mask(
    logits: &Tensor,
    constraint: &Constraint,
    token_bytes: &[Option<Vec<u8>>],
    stop_ids: &[u32],
) -> candle_core::Result<(Tensor, bool)> {
    let mut values = logits.to_vec1::<f32>()?;
    let complete = constraint.complete();
    let mut any = false;
    for (id, value) in values.iter_mut().enumerate() {
        let allowed = match token_bytes.get(id) {
            _ if stop_ids.contains(&(id as u32)) => complete,
            Some(Some(bytes)) => constraint.allows(bytes),
            _ => false,
        };
        if allowed {
            any = true;
        } else {
            *value = f32::NEG_INFINITY;
        }
    }
    Ok((Tensor::new(values, logits.device())?, any))
}

/// Byte-level BPE spells bytes as printable characters (GPT-2's table); invert it per token.
fn token_bytes(tokenizer: &Tokenizer) -> Vec<Option<Vec<u8>>> {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~'))
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut char_to_byte = std::collections::HashMap::new();
    for &b in &printable {
        char_to_byte.insert(char::from_u32(b).expect("valid"), b as u8);
    }
    let mut extra = 0;
    for b in 0u32..256 {
        if !printable.contains(&b) {
            char_to_byte.insert(char::from_u32(256 + extra).expect("valid"), b as u8);
            printable.push(b);
            extra += 1;
        }
    }
    let special: std::collections::HashSet<u32> = tokenizer
        .get_added_tokens_decoder()
        .iter()
        .filter(|(_, t)| t.special)
        .map(|(id, _)| *id)
        .collect();
    (0..tokenizer.get_vocab_size(true) as u32)
        .map(|id| {
            if special.contains(&id) {
                return None;
            }
            let token = tokenizer.id_to_token(id)?;
            token
                .chars()
                .map(|c| char_to_byte.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
        })
        .collect()
}

/// Models whose dequantized weights (f32 + an 8-bit copy, 5 bytes a parameter) fit in this are
/// dequantized at load time.
const DEQUANTIZE_UP_TO_BYTES: usize = 3 << 30;

/// Loads the weights, dequantized when the model is small. candle's quantized CPU kernels are
/// chosen at compile time (a portable build gets scalar code), while float products pick their
/// SIMD at run time (candle's f32 for the prompt, ours over 8 bits in [`crate::llama`] for each new
/// token): for a 135M-parameter model that is many times faster, for 675 MB of memory. Larger
/// models keep their quantized weights.
fn load_weights(content: gguf_file::Content, file: &mut File) -> anyhow::Result<Llama> {
    let parameters: usize = content
        .tensor_infos
        .values()
        .map(|t| t.shape.elem_count())
        .sum();
    let dequantize = parameters * 5 <= DEQUANTIZE_UP_TO_BYTES;
    Ok(Llama::from_gguf(&content, file, &Device::Cpu, dequantize)?)
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(42)
}

#[async_trait]
impl ChatModel for LocalChat {
    fn model_id(&self) -> &str {
        &self.engine.id
    }

    fn constrains_output(&self) -> bool {
        true
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, KernelError> {
        let _place = self.queue.admit()?;
        let cancel = Cancel::new();
        let gone = cancel.flag();
        let this = self.clone();
        let request = request.clone();
        let caller = tracing::Span::current();
        let generated = tokio::task::spawn_blocking(move || {
            caller.in_scope(|| this.generate(&request, |_| !gone.load(Ordering::SeqCst)))
        })
        .await
        .map_err(|e| KernelError::BadResponse(format!("generation task failed: {e}")))??;
        Ok(ChatResponse {
            message: ChatMessage::assistant(generated.text),
            finish_reason: generated.finish_reason,
            usage: generated.usage,
            model: self.engine.id.clone(),
        })
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, KernelError> {
        let place = self.queue.admit()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let this = self.clone();
        let request = request.clone();
        // The reader dropping the stream closes the channel, which ends generation.
        let caller = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _place = place;
            let result = caller.in_scope(|| {
                this.generate(&request, |piece| {
                    tx.blocking_send(Ok(ChatDelta::Text(piece.to_string())))
                        .is_ok()
                })
            });
            let last = result.map(|g| ChatDelta::Finished {
                finish_reason: g.finish_reason,
                usage: g.usage,
            });
            let _ = tx.blocking_send(last);
        });
        Ok(miyagi_kernel::chat::channel_stream(rx))
    }
}
