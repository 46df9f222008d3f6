"""Sentence embeddings from an encoder checkpoint (inference): pooling, batching, writing `.npy` / parquet.

`seedformer extract-features` is the command line over `extract_features` and `write_features`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

POOLINGS = ("cls", "mean", "max")


def pool_hidden_states(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """hidden (B, L, H), attention_mask (B, L) of 0/1 -> (B, H).

    cls: the first token; mean: average over real tokens; max: element-wise max over real tokens (padding excluded).
    """
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    if pooling == "mean":
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if pooling == "max":
        return hidden.masked_fill(mask == 0, torch.finfo(hidden.dtype).min).amax(1)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


@torch.no_grad()
def extract_features(
    model,
    tokenizer,
    texts: list[str],
    pooling: str = "mean",
    normalize: bool = False,
    batch_size: int = 32,
    max_length: int = 256,
    progress: bool = True,
) -> np.ndarray:
    """Embeddings (N, hidden) float32 of `texts`, in input order.

    `model` is a base encoder (AutoModel); texts are sorted by length internally so batches carry little padding.
    `normalize` scales each row to unit L2 norm (cosine similarity = dot product).
    """
    from tqdm.auto import tqdm

    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    model.eval()
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    device = next(model.parameters()).device
    for begin in tqdm(range(0, len(texts), batch_size), desc="Embedding", disable=not progress, unit="batch"):
        index = order[begin : begin + batch_size]
        batch = tokenizer(
            [texts[i] for i in index], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        hidden = model(**batch).last_hidden_state
        pooled = pool_hidden_states(hidden, batch["attention_mask"], pooling).float()
        if normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        out[index] = pooled.cpu().numpy()
    return out


def write_features(path: str | Path, ids: list, embeddings: np.ndarray) -> list[Path]:
    """Write embeddings with their ids. Returns the files written.

    `.npy`: the (N, hidden) array, plus `<name>.ids.npy` with the ids. `.parquet`: columns `id` and `embedding`
    (list of float32).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} ids for {len(embeddings)} embeddings")
    if path.suffix == ".npy":
        ids_path = path.with_suffix(".ids.npy")
        np.save(path, embeddings)
        np.save(ids_path, np.asarray(ids))
        return [path, ids_path]
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"id": pa.array(ids), "embedding": pa.array(list(embeddings), type=pa.list_(pa.float32()))})
        pq.write_table(table, path)
        return [path]
    raise ValueError(f"Output must end in .npy or .parquet, got {path.name!r}")
