"""Unpadded ("padding-free") execution: remove padding once after the inputs, pad back once at the end.

A padded batch (B, L) whose `attention_mask` marks T <= B*L real tokens is packed into ONE row of T tokens, shape
(1, T, ...), the layout transformers calls padding-free (flash-attention varlen, `DataCollatorWithFlattening`).
Every linear layer, norm and activation then runs on real tokens only; only attention needs to know where one
sequence ends and the next begins, which `PackedSequences` records (`cu_seqlens` as in flash-attention,
ModernBERT and MosaicBERT; plus the lengths as Python ints so CPU kernels can split without a device sync per layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PackedSequences:
    """Where the real tokens of a padded (B, L) batch sit once packed into one row of T tokens.

    indices: (T,) positions of the real tokens in the flattened (B*L,) batch, row-major.
    cu_seqlens: (B+1,) int32 cumulative lengths (flash-attention varlen convention): sequence b is
        packed[cu_seqlens[b]:cu_seqlens[b+1]].
    seqlens: the B lengths as Python ints (CPU attention splits on them).
    runs: (length, count) for each run of consecutive sequences of equal length; attention handles a run as one
        batched call (an unpadded-looking batch of full rows becomes a single kernel call).
    max_seqlen: the longest sequence.
    batch_size, seq_len: the padded shape (B, L) to restore.
    """

    indices: torch.Tensor
    cu_seqlens: torch.Tensor
    seqlens: tuple[int, ...]
    runs: tuple[tuple[int, int], ...]
    max_seqlen: int
    batch_size: int
    seq_len: int

    @classmethod
    def from_attention_mask(cls, attention_mask: torch.Tensor, seqlens: list[int] | None = None) -> PackedSequences:
        """attention_mask (B, L) of 0/1 (or bool). Holes inside a row are allowed (a row's real tokens are packed
        together in order, exactly the set of keys the padded path lets them attend to).

        seqlens: the B row lengths, when the caller already has them on the host (`SeedformerModel` fetches them
        with its input checks); then building the packing needs no device sync at all."""
        batch_size, seq_len = attention_mask.shape
        keep = attention_mask.bool()
        lengths = keep.sum(dim=1, dtype=torch.int32)
        if seqlens is None:
            seqlens = lengths.tolist()  # a host sync
        seqlens = tuple(seqlens)
        # nonzero_static: the output size is known, so no sync to size it (plain nonzero syncs).
        indices = torch.nonzero_static(keep.reshape(-1), size=sum(seqlens)).reshape(-1)
        cu_seqlens = torch.nn.functional.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))
        return cls(indices, cu_seqlens, seqlens, _runs(seqlens), max(seqlens, default=0), batch_size, seq_len)

    @property
    def num_tokens(self) -> int:
        return int(self.indices.numel())

    def attention_kwargs(self, queries: QuerySubset | None = None) -> dict:
        """The varlen keyword arguments transformers' flash-attention integration reads (`TransformersKwargs`)."""
        return {
            "cu_seq_lens_q": self.cu_seqlens if queries is None else queries.cu_seqlens,
            "cu_seq_lens_k": self.cu_seqlens,
            "max_length_q": self.max_seqlen if queries is None else queries.max_seqlen,
            "max_length_k": self.max_seqlen,
        }

    def attention_runs(self, queries: QuerySubset | None = None) -> tuple[tuple[int, int, int], ...]:
        """(query length, key length, count) for each run of consecutive sequences that attention can batch."""
        if queries is None:
            return tuple((length, length, count) for length, count in self.runs)
        return tuple(
            (q_length, k_length, count) for (q_length, k_length), count in _runs(zip(queries.seqlens, self.seqlens))
        )

    def select(self, mask: torch.Tensor, seqlens: list[int] | None = None) -> QuerySubset:
        """The packed tokens where `mask` (B, L) bool is set: the rows a sparse head reads after the last layer.
        Positions outside `attention_mask` cannot be selected (they are not in the packed row).

        seqlens: the B counts of selected real tokens per row, when the caller has them on the host (no sync then)."""
        chosen = mask.reshape(-1).index_select(0, self.indices)  # (T,) in packed order
        cumulative = torch.nn.functional.pad(torch.cumsum(chosen, dim=0, dtype=torch.int32), (1, 0))
        cu_seqlens = cumulative.index_select(0, self.cu_seqlens.long())
        if seqlens is None:
            seqlens = torch.diff(cu_seqlens).tolist()  # a host sync
        seqlens = tuple(seqlens)
        index = torch.nonzero_static(chosen, size=sum(seqlens)).reshape(-1)
        return QuerySubset(index, cu_seqlens, seqlens, max(seqlens, default=0))


@dataclass(frozen=True)
class QuerySubset:
    """Some tokens of each packed sequence, the only ones whose output is needed (sparse MLM: the masked tokens).

    The last encoder layer then computes queries, attention output and feed-forward for these rows only, against
    keys and values of every token (MosaicBERT's final-layer trick).

    index: (N,) ascending rows of the packed (T) axis, so each sequence's rows are contiguous and in order.
    cu_seqlens: (B+1,) int32 cumulative count of selected rows per sequence.
    seqlens: those B counts as Python ints.
    max_seqlen: the largest count.
    """

    index: torch.Tensor
    cu_seqlens: torch.Tensor
    seqlens: tuple[int, ...]
    max_seqlen: int


def _runs(items) -> tuple:
    """Group consecutive equal items with their count: [a, a, b] -> ((a, 2), (b, 1))."""
    runs: list[list] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    return tuple(map(tuple, runs))


def unpad(tensor: torch.Tensor | None, packed: PackedSequences) -> torch.Tensor | None:
    """(B, L, ...) -> (1, T, ...): keep the real tokens, in order. A (1, L, ...) tensor (shared position ids) is
    broadcast over the batch first."""
    if tensor is None:
        return None
    if tensor.shape[0] != packed.batch_size:
        tensor = tensor.expand(packed.batch_size, *tensor.shape[1:])
    flat = tensor.reshape(packed.batch_size * packed.seq_len, *tensor.shape[2:])
    return flat.index_select(0, packed.indices).unsqueeze(0)


def pad(tensor: torch.Tensor, packed: PackedSequences, value: float = 0.0) -> torch.Tensor:
    """(1, T, ...) or (T, ...) -> (B, L, ...), with `value` at padded positions. Differentiable."""
    if tensor.dim() > 1 and tensor.shape[0] == 1 and tensor.shape[1] == packed.num_tokens:
        tensor = tensor.squeeze(0)
    out = tensor.new_full((packed.batch_size * packed.seq_len, *tensor.shape[1:]), value)
    out = out.index_copy(0, packed.indices, tensor)
    return out.view(packed.batch_size, packed.seq_len, *tensor.shape[1:])


__all__ = ["PackedSequences", "QuerySubset", "pad", "unpad"]
