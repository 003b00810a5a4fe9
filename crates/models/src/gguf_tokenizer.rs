//! Rebuilds a GGUF model's tokenizer from the file's own metadata, so a GGUF is all a person
//! needs. Supports the `gpt2` (byte-level BPE) family, which covers Llama-3, SmolLM, Qwen and
//! most current GGUFs; `tokenizer.ggml.pre` picks the pre-tokenizer.

use anyhow::{bail, Context};
use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::{
    decoders::byte_level::ByteLevel as ByteLevelDecoder,
    models::bpe::BPE,
    pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence},
    AddedToken, PreTokenizerWrapper, Tokenizer,
};

fn strings(content: &Content, key: &str) -> anyhow::Result<Vec<String>> {
    let values = content
        .metadata
        .get(key)
        .with_context(|| format!("GGUF has no {key}"))?
        .to_vec()?;
    values.iter().map(|v| Ok(v.to_string()?.clone())).collect()
}

pub fn from_gguf(content: &Content) -> anyhow::Result<Tokenizer> {
    let model = content
        .metadata
        .get("tokenizer.ggml.model")
        .map(|v| v.to_string().cloned())
        .transpose()?;
    if model.as_deref() != Some("gpt2") {
        bail!("GGUF tokenizer {model:?} is not supported (only byte-level BPE, `gpt2`)");
    }
    let tokens = strings(content, "tokenizer.ggml.tokens")?;
    let merges: Vec<(String, String)> = strings(content, "tokenizer.ggml.merges")?
        .into_iter()
        .filter_map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    // tokenizers keys its vocabulary with ahash.
    let vocab: ahash::AHashMap<String, u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| anyhow::anyhow!("building BPE: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre = content
        .metadata
        .get("tokenizer.ggml.pre")
        .map(|v| v.to_string().cloned())
        .transpose()?;
    let byte_level = ByteLevel::new(false, true, true);
    let pre_tokenizer: PreTokenizerWrapper = match pre.as_deref() {
        // SmolLM: every digit on its own, then GPT-2's byte-level split.
        Some("smollm") => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        _ => byte_level.into(),
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    // Control tokens (<|im_start|>, <|endoftext|> …) must match as whole tokens in prompt text.
    let types: Vec<i64> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()?
            .iter()
            .map(|t| t.to_i32().map(i64::from))
            .collect::<Result<_, _>>()?,
        None => vec![],
    };
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(types.iter())
        .filter(|(_, t)| **t == 3)
        .map(|(token, _)| AddedToken::from(token.clone(), true))
        .collect();
    tokenizer.add_special_tokens(&special);
    Ok(tokenizer)
}

/// A metadata value as text, if present.
pub fn metadata_string(content: &Content, key: &str) -> Option<String> {
    match content.metadata.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

pub fn metadata_u32(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}
