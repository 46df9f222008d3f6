"""Named pretraining recipes: a model preset plus the data and optimisation hyper-parameters that go with it.

`scripts/pretrain.py --preset cpu_small` (the default for a from-scratch run) applies one. On the command line
(`parse_pretraining_args`) the recipe's values become the parser's defaults, so every flag given explicitly wins:
`--preset cpu_small --learning_rate 1e-3` keeps 1e-3. Python callers of `pretrain(...)` with dataclasses built by
hand get the recipe on the fields left at their dataclass defaults, except those they name in a prior
`apply_recipe(..., keep=...)`. The plain config presets (`bert_like`, `modern`) set the model only, as before.

Why `cpu_small` looks as it does (sources: Cramming, Geiping & Goldstein 2023; MosaicBERT, Portes et al. 2023;
ELECTRA, Clark et al. 2020; LTG-BERT for BabyLM, Samuel et al. 2023; measurements in docs/pretrain_study/):
- Shape for the budget: on one CPU core a 128-wide, 4-layer modern encoder trains at ~5,400 tokens/s (30% sparse
  MLM, 8k vocabulary), i.e. ~1 M tokens in 3 minutes and ~20 M (about 1.5 passes over IMDB's 50k unlabelled
  reviews) in an hour: ~30 tokens per non-embedding parameter, near the compute-optimal ratio. The old 64-wide,
  2-layer model had 0.12 M parameters besides its 0.51 M embedding parameters: 81% of the model was a lookup table.
- Cramming's architecture choices that pay at small compute: pre-norm, no biases, gated FFN, no dropout in
  pretraining -> the `modern` preset.
- Masking 30% (MosaicBERT, also Wettig et al. 2023) with sparse prediction (the vocabulary projection runs only on
  the masked tokens), 80/10/10 replacement as in BERT. Measured at 60 CPU-minutes (IMDB, 3 seeds): 30% of tokens
  0.786, 15% of tokens 0.778, 30% of whole words 0.781 (the study's `cpu_small_mask15` / `cpu_small_wwm` arms).
- Learning rate 2e-3 (small models take large rates; Cramming uses 1e-3 at 768 wide), AdamW (0.9, 0.98), weight
  decay 0.01, linear warm-up over the first 10% then linear decay to 0. With `--max_train_minutes` the schedule
  runs on the clock and reaches 0 exactly when the budget ends (Cramming's budget-tied one-cycle schedule).
- 128-token blocks, batch 16: short sequences are cheap on CPU (attention is quadratic) and match the 128-token
  finetuning of the study.
- Tokenizer: 8,192 WordPiece tokens trained on the same corpus (LTG-BERT used 6,144 for 10 M words of BabyLM).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field

from transformers import TrainingArguments
from transformers.trainer_utils import SchedulerType

from .arguments import DataArguments, ModelArguments


@dataclass(frozen=True)
class PretrainingRecipe:
    """config_preset: a `SeedformerConfig` classmethod. data / training: `DataArguments` / `TrainingArguments` field
    values. budget_warmup_fraction: warm-up share of a `--max_train_minutes` budget. tokenizer_vocab_size: the
    vocabulary to train the tokenizer with (scripts/train_tokenizer.py --vocab_size), a recommendation."""

    name: str
    config_preset: str
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    budget_warmup_fraction: float = 0.1
    tokenizer_vocab_size: int = 8192


RECIPES: dict[str, PretrainingRecipe] = {
    "cpu_small": PretrainingRecipe(
        name="cpu_small",
        config_preset="cpu_small",
        data={"max_seq_length": 128, "mlm_probability": 0.3, "mask_replace_prob": 0.8, "random_replace_prob": 0.1},
        training={
            "learning_rate": 2e-3,
            "warmup_steps": 0.1,
            "lr_scheduler_type": "linear",
            "weight_decay": 0.01,
            "adam_beta1": 0.9,
            "adam_beta2": 0.98,
            "per_device_train_batch_size": 16,
        },
        budget_warmup_fraction=0.1,
        tokenizer_vocab_size=8192,
    ),
}


def _defaults(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _is_default(value, default) -> bool:
    value = getattr(value, "value", value)  # enums (lr_scheduler_type) compare by their string value
    default = getattr(default, "value", default)
    return value == default


def apply_recipe(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: TrainingArguments,
    keep: Collection[str] = (),
) -> PretrainingRecipe | None:
    """Fill the options left at their defaults from the recipe named by `model_args.preset` (None: not a recipe).
    Arguments parsed by `parse_pretraining_args` already hold the recipe and are returned unchanged.

    keep: names of `DataArguments` / `TrainingArguments` fields the caller set on purpose. A value equal to the
    dataclass default cannot tell "set" from "left": `DataArguments(mlm_probability=0.15)` would otherwise get the
    recipe's 0.3. `pretrain(...)` calls this again and finds the recipe applied."""
    unknown = set(keep) - {f.name for cls in (type(data_args), type(training_args)) for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"apply_recipe(keep=...): no such argument(s) {sorted(unknown)}.")
    recipe = RECIPES.get(model_args.preset)
    if recipe is None or getattr(model_args, "_recipe_applied", False):
        return recipe
    for args, values in ((data_args, recipe.data), (training_args, recipe.training)):
        defaults = _defaults(type(args))
        for name, value in values.items():
            if name not in keep and _is_default(getattr(args, name), defaults.get(name)):
                setattr(args, name, value)
    model_args._recipe_applied = True
    if isinstance(training_args.lr_scheduler_type, str):
        training_args.lr_scheduler_type = SchedulerType(training_args.lr_scheduler_type)
    return recipe


def _preset_in_argv(argv: list[str]) -> str | None:
    """The --preset named on the command line (default preset if none); None when the model comes from a checkpoint
    or a config (--model_name_or_path / --config_name), which a recipe does not apply to."""
    from .arguments import DEFAULT_PRESET

    preset = DEFAULT_PRESET
    for i, arg in enumerate(argv):
        name = arg.split("=", 1)[0]
        if name in ("--model_name_or_path", "--config_name"):
            return None
        if name == "--preset":
            preset = arg.split("=", 1)[1] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else preset)
    return preset


def parse_pretraining_args(argv: list[str]):
    """`scripts/pretrain.py`'s parsing: (ModelArguments, DataArguments, PretrainingArguments), with the recipe of
    `--preset` as the parser's defaults so that explicit flags override it (even when equal to the stock default)."""
    from transformers import HfArgumentParser

    from .arguments import PretrainingArguments

    parser = HfArgumentParser((ModelArguments, DataArguments, PretrainingArguments))
    recipe = RECIPES.get(_preset_in_argv(argv) or "")
    if recipe is not None:
        parser.set_defaults(**recipe.data, **recipe.training)
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    if recipe is not None:
        model_args._recipe_applied = True
        if isinstance(training_args.lr_scheduler_type, str):
            training_args.lr_scheduler_type = SchedulerType(training_args.lr_scheduler_type)
    return model_args, data_args, training_args


__all__ = ["RECIPES", "PretrainingRecipe", "apply_recipe", "parse_pretraining_args"]
