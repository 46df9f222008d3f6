"""Pretraining data (MLM blocks, whole-word masking, NSP pairs, denoising) and the pretraining run.

- `corpus.load_corpus`: raw documents from files or a `datasets` dataset (blank ones dropped, clear errors).
- `blocks.build_mlm_blocks`: documents -> fixed-length MLM blocks (optionally with word boundaries for whole-word masking).
- `nsp.build_nsp_pairs`: documents -> BERT next-sentence-prediction pairs.
- `objectives`: the `--objective` registry (model class, dataset builder, collator per name).
- `run.pretrain`: the Trainer run behind `scripts/pretrain.py`.
- `electra`: ELECTRA replaced-token detection (`--objective electra`); the run saves the discriminator.
- `recipes`: named recipes (`--preset cpu_small`, the default from scratch); `probe`: the linear probe of
  evaluation (the time budget and resume checks both runners share are in `training/`).
- `study`: the recipe study behind `scripts/pretrain_study.py` (arms x budgets x tasks x seeds -> CSV + plot).
"""

from .blocks import build_mlm_blocks
from .collators import BatchSeededMaskingCollator
from .corpus import load_corpus
from .nsp import NextSentencePairBuilder, build_nsp_pairs
from .objectives import OBJECTIVES, PretrainingObjective, get_objective, register_objective
from .run import pretrain

__all__ = [
    "OBJECTIVES",
    "BatchSeededMaskingCollator",
    "NextSentencePairBuilder",
    "PretrainingObjective",
    "build_mlm_blocks",
    "build_nsp_pairs",
    "get_objective",
    "load_corpus",
    "pretrain",
    "register_objective",
]
