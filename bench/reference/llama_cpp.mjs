// Reference for `cargo bench -p miyagi-models --bench local_models` (chat half): the same
// workload on llama.cpp, through node-llama-cpp's prebuilt CPU binaries (npm).
//
// Install:  bash bench/reference/setup.sh [DIR]          (DIR defaults to /tmp/miyagi-ref)
// Run:      MIYAGI_REF_DIR=DIR node bench/reference/llama_cpp.mjs [model.gguf] [threads]
//           model defaults to $MIYAGI_MODELS_DIR (or ~/.cache/miyagi/models)/smollm2-135m-instruct-q4_1/model.gguf,
//           threads to 2.
//
// Same as ours: prompt rendered with the GGUF's own chat template (one user message, generation
// prompt), greedy decoding with repeat penalty 1.1 over the last 64 generated tokens, stop on
// <|im_end|>/<|endoftext|>, one request at a time, fresh KV cache per request, medians of 5,
// no warm-up. Prefill = prompt tokens / time to produce 1 token; decode = (completion tokens - 1)
// / time after the first token.
import os from "node:os";
import path from "node:path";
import {createRequire} from "node:module";
import {pathToFileURL} from "node:url";

// The packages live in DIR/node/node_modules (setup.sh), not in the repo.
const refDir = process.env.MIYAGI_REF_DIR ?? "/tmp/miyagi-ref";
const require = createRequire(path.join(refDir, "node", "package.json"));
const {getLlama} = await import(pathToFileURL(require.resolve("node-llama-cpp")).href);
const {Template} = require("@huggingface/jinja");

const modelsDir = process.env.MIYAGI_MODELS_DIR ?? path.join(os.homedir(), ".cache/miyagi/models");
const modelPath = process.argv[2] ?? path.join(modelsDir, "smollm2-135m-instruct-q4_1/model.gguf");
const threads = Number(process.argv[3] ?? 2);
const RUNS = 5;

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const now = () => performance.now();

let t = now();
const llama = await getLlama({gpu: false, build: "never", logLevel: "warn"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 1024, batchSize: 512, threads});
const sequence = context.getSequence();
console.log(`chat model load: ${((now() - t) / 1000).toFixed(2)} s (threads=${threads}, ${llama.systemInfo.trim()})`);

const md = model.fileInfo.metadata;
const template = new Template(md.tokenizer.chat_template);
const vocab = md.tokenizer.ggml.tokens;
const stopIds = new Set(["<|im_end|>", "<|endoftext|>"].map((s) => vocab.indexOf(s)).filter((i) => i >= 0));
stopIds.add(md.tokenizer.ggml.eos_token_id);
const promptTokens = (user) => {
  const text = template.render({
    messages: [{role: "user", content: user}], add_generation_prompt: true,
    bos_token: vocab[md.tokenizer.ggml.bos_token_id], eos_token: vocab[md.tokenizer.ggml.eos_token_id],
  });
  return model.tokenize(text, true); // special tokens parsed; this GGUF has add_bos_token=false
};

// Generates up to maxTokens; calls onToken(token) for each generated (non-stop) token.
async function generate(tokens, maxTokens, onToken = () => {}) {
  await sequence.clearHistory();
  const generated = [];
  const it = sequence.evaluate(tokens, {
    temperature: 0,
    repeatPenalty: {penalty: 1.1, maxPunishTokens: 64, punishTokens: () => generated.slice(-64)},
  });
  for await (const token of it) {
    if (stopIds.has(token)) break;
    generated.push(token);
    onToken(token);
    if (generated.length >= maxTokens) break;
  }
  return generated;
}

const longPrompt = ("Explain, step by step, how a person in their thirties should think about saving for retirement, " +
  "including index funds, bonds, emergency savings, employer matches and taxes. ").repeat(6);
const longTokens = promptTokens(longPrompt);
const prefill = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = now();
  await generate(longTokens, 1);
  prefill.push(longTokens.length / ((now() - t0) / 1000));
}
console.log(`prefill: ${median(prefill).toFixed(0)} tokens/s (${longTokens.length}-token prompt) runs=${prefill.map((x) => x.toFixed(0))}`);

const shortTokens = promptTokens("Tell me about index funds.");
const decode = [], ttft = [];
let out = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = now();
  let first = null;
  out = await generate(shortTokens, 128, () => { first ??= now(); });
  const end = now();
  ttft.push(first - t0);
  decode.push((out.length - 1) / ((end - first) / 1000));
}
console.log(`decode: ${median(decode).toFixed(1)} tokens/s (${out.length} tokens) runs=${decode.map((x) => x.toFixed(1))}`);
console.log(`time to first token: ${median(ttft).toFixed(0)} ms (short prompt, ${shortTokens.length} tokens) runs=${ttft.map((x) => x.toFixed(0))}`);
console.log(`completion: ${JSON.stringify(model.detokenize(out).slice(0, 160))}...`);
await llama.dispose();
