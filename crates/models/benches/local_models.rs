//! Local model speed: load time, prefill and decode tokens/s, time to first token, embeddings/s.
//!
//! `cargo bench -p miyagi-models --bench local_models`
//!
//! Uses the models in the model cache (pulled on first run). Greedy decoding, one request at a
//! time, all cores. Each figure is the median of several runs. `MIYAGI_BENCH_SKIP=chat` (or
//! `embeddings`) leaves a half out.

use std::time::{Duration, Instant};

use miyagi_kernel::{chat::ExecutionSettings, ChatMessage, ChatRequest};
use miyagi_models::{
    cache::{ModelCache, MINILM, SMOLLM2},
    chat::LocalChat,
    embeddings::LocalEmbedder,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let skip = std::env::var("MIYAGI_BENCH_SKIP").unwrap_or_default();
    let cache = ModelCache::new(ModelCache::default_dir());
    if !skip.contains("chat") {
        chat(&cache);
    }
    if !skip.contains("embeddings") {
        embeddings(&cache);
    }
}

fn chat(cache: &ModelCache) {
    let gguf = cache.ensure(&SMOLLM2, true).unwrap().join("model.gguf");
    let started = Instant::now();
    let chat = LocalChat::load(&gguf).unwrap();
    println!("chat model load: {:.2} s", started.elapsed().as_secs_f64());

    let long_prompt = "Explain, step by step, how a person in their thirties should think about saving for retirement, \
                       including index funds, bonds, emergency savings, employer matches and taxes. "
        .repeat(6);
    let request = |prompt: &str, max_tokens: u32| ChatRequest {
        messages: vec![ChatMessage::user(prompt)],
        settings: ExecutionSettings {
            max_tokens: Some(max_tokens),
            temperature: Some(0.0),
            ..Default::default()
        },
        tools: vec![],
    };

    // Prefill: a long prompt and a single output token.
    let mut prefill = vec![];
    let mut prompt_tokens = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let out = chat.generate(&request(&long_prompt, 1), |_| true).unwrap();
        prefill.push(out.usage.prompt_tokens as f64 / t.elapsed().as_secs_f64());
        prompt_tokens = out.usage.prompt_tokens;
    }
    println!(
        "prefill: {:.0} tokens/s ({prompt_tokens}-token prompt)",
        median(prefill)
    );

    // Decode and time to first token on a short prompt.
    let (mut decode, mut ttft) = (vec![], vec![]);
    for run in 0..5 {
        let t = Instant::now();
        let mut first: Option<Duration> = None;
        let out = chat
            .generate(&request("Tell me about index funds.", 128), |_| {
                first.get_or_insert(t.elapsed());
                true
            })
            .unwrap();
        let total = t.elapsed();
        if run == 0 {
            // What the weights say matters as much as how fast: read it.
            println!("decoded text: {}", out.text.replace('\n', " "));
        }
        let first = first.unwrap();
        ttft.push(first.as_secs_f64() * 1e3);
        decode.push(
            f64::from(out.usage.completion_tokens.saturating_sub(1))
                / (total - first).as_secs_f64(),
        );
    }
    println!("decode: {:.1} tokens/s (128 tokens)", median(decode));
    println!("time to first token: {:.0} ms (short prompt)", median(ttft));

    // Decode deep into a context, as advice is written after a prompt of about 1,000 tokens:
    // each new token attends over every cached one.
    let deep_prompt = format!(
        "{}\nNow summarise that in one paragraph.",
        long_prompt.repeat(4)
    );
    let mut deep = vec![];
    let (mut deep_tokens, mut deep_written) = (0, 0);
    for _ in 0..3 {
        let t = Instant::now();
        let mut first: Option<Duration> = None;
        let out = chat
            .generate(&request(&deep_prompt, 128), |_| {
                first.get_or_insert(t.elapsed());
                true
            })
            .unwrap();
        let first = first.unwrap();
        deep.push(
            f64::from(out.usage.completion_tokens.saturating_sub(1))
                / (t.elapsed() - first).as_secs_f64(),
        );
        (deep_tokens, deep_written) = (out.usage.prompt_tokens, out.usage.completion_tokens);
    }
    println!(
        "decode after a {deep_tokens}-token prompt: {:.1} tokens/s ({deep_written} tokens)",
        median(deep)
    );
}

fn embeddings(cache: &ModelCache) {
    let embedder = LocalEmbedder::load(&cache.ensure(&MINILM, true).unwrap()).unwrap();
    let sentences: Vec<String> = (0..256)
        .map(|i| {
            format!(
                "Sentence number {i} is about diversified, low-cost investing for the long term."
            )
        })
        .collect();
    let mut rates = vec![];
    for _ in 0..3 {
        let t = Instant::now();
        embedder.embed_blocking(&sentences).unwrap();
        rates.push(sentences.len() as f64 / t.elapsed().as_secs_f64());
    }
    println!(
        "embeddings: {:.0} sentences/s (batches of 32, ~16 tokens each)",
        median(rates)
    );
    // The same check sentence as bench/reference/minilm.py, to compare with its backends.
    let check = embedder
        .embed_blocking(&["Index funds are cheap.".to_string()])
        .unwrap();
    let first: Vec<String> = check[0][..5].iter().map(|v| format!("{v:.6}")).collect();
    println!("'Index funds are cheap.'[:5] = {}", first.join(" "));
}
