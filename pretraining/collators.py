"""The stock MLM collator with masks that depend on the batch, not on where the global RNG happens to be."""

from __future__ import annotations

import zlib

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling


class BatchSeededMaskingCollator(DataCollatorForLanguageModeling):
    """`DataCollatorForLanguageModeling` whose masking generator is seeded from `mask_seed` and the batch's token ids.

    The stock collator draws masks from torch's global RNG (or from one generator advanced batch after batch). With
    either, the masks of a batch depend on everything drawn before it: accelerate's data loader collates one batch
    ahead of the optimizer step, so a run resumed from a checkpoint masks every later batch differently from the run
    that was interrupted, and two evaluations of the same model on the same data see different masks. Seeding per
    batch makes both reproducible: a resumed run ends bit-for-bit where an uninterrupted one does, and eval metrics
    change only when the model does. Batches are reshuffled every epoch, so masks still vary across epochs.
    Masking itself (rates, 80/10/10, whole words) is the stock code, unchanged.
    """

    def __init__(self, *args, mask_seed: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.mask_seed = mask_seed

    def torch_call(self, examples):
        digest = self.mask_seed & 0xFFFFFFFF
        for example in examples:
            ids = example["input_ids"] if isinstance(example, dict) or hasattr(example, "keys") else example
            digest = zlib.crc32(np.asarray(ids, dtype=np.int64).tobytes(), digest)
        self.generator = torch.Generator().manual_seed(digest)
        return super().torch_call(examples)
