"""Model cards for Seedformer checkpoints, and a `push_to_hub` that ships one.

A card is a README.md with YAML metadata the Hub indexes (`library_name: transformers`, the head's `pipeline_tag`,
tags including `seedformer`, `license`, `datasets`, `base_model`, the metric names and a `model-index` with the run's
values) followed by the architecture, usage snippets for both loading paths (the installed plugin and
`trust_remote_code=True`), the results and the training hyperparameters.

- `build_model_card(config_or_model, ...)` -> `huggingface_hub.ModelCard`
- `write_model_card(folder, ...)`: reads `folder/config.json`, writes `folder/README.md` (what the training scripts
  call at the end of a run; with `push=True` / `--push_to_hub` the card is uploaded to the run's repo too).
- `push_model_to_hub(model, repo_id, ...)`: what `SeedformerPreTrainedModel.push_to_hub` runs: weights, config,
  code and a card in one commit (an existing card on the Hub is kept, and tagged).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

LIBRARY_TAG = "seedformer"
DEFAULT_LICENSE = "apache-2.0"
# The body of the card transformers' `push_to_hub` creates when a repo has none (utils/hub.py).
TRANSFORMERS_PLACEHOLDER_CARD = "This is the model card of a 🤗 transformers model that has been pushed on the Hub."
# Class-name suffix -> (Hub pipeline tag, Auto class). Suffixes, so heads added later map without edits here.
HEAD_TASKS: dict[str, tuple[str | None, str]] = {
    "ForConditionalGeneration": ("text2text-generation", "AutoModelForSeq2SeqLM"),
    "ForMaskedLM": ("fill-mask", "AutoModelForMaskedLM"),
    "ForPreTraining": ("fill-mask", "AutoModelForPreTraining"),
    "ForSequenceClassification": ("text-classification", "AutoModelForSequenceClassification"),
    "ForTokenClassification": ("token-classification", "AutoModelForTokenClassification"),
    "ForQuestionAnswering": ("question-answering", "AutoModelForQuestionAnswering"),
    "ForMultipleChoice": ("multiple-choice", "AutoModelForMultipleChoice"),
    "ForNextSentencePrediction": ("text-classification", "AutoModelForNextSentencePrediction"),
    "Seq2SeqModel": ("feature-extraction", "AutoModel"),
    "Model": ("feature-extraction", "AutoModel"),
}


def head_task(architecture: str | None) -> tuple[str | None, str]:
    """(pipeline_tag, Auto class name) for a model class name; unknown heads get (None, "AutoModel")."""
    for suffix, task in HEAD_TASKS.items():
        if architecture and architecture.endswith(suffix):
            return task
    return None, "AutoModel"


def _config_dict(config_or_model) -> dict:
    config = getattr(config_or_model, "config", config_or_model)
    if isinstance(config, Mapping):
        return dict(config)
    data = config.to_dict()
    if hasattr(config_or_model, "config"):  # a model: its own class is the architecture
        data["architectures"] = [type(config_or_model).__name__]
    return data


def _numeric_metrics(metrics: Mapping | None) -> dict[str, float]:
    """Evaluation numbers worth a model-index entry: `eval_*` / `test_*` / `predict_*` values, minus bookkeeping."""
    skip = ("runtime", "samples_per_second", "steps_per_second", "samples", "epoch", "mem_")
    out = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not key.startswith(("eval_", "test_", "predict_")) or any(s in key for s in skip):
            continue
        out[key] = float(value)
    return out


def _metric_type(key: str) -> str:
    return key.split("_", 1)[1] if "_" in key else key


def build_model_card(
    config_or_model,
    *,
    repo_id: str | None = None,
    license: str = DEFAULT_LICENSE,
    datasets: Iterable[str] | None = None,
    metrics: Mapping | None = None,
    base_model: str | None = None,
    tags: Iterable[str] | None = None,
    language: str | list[str] | None = None,
    description: str | None = None,
    training_args: object | None = None,
    model_name: str | None = None,
) -> ModelCard:
    """A `ModelCard` for a Seedformer checkpoint.

    Args:
        config_or_model: a model, a `SeedformerConfig`, or a `config.json` dict (its `architectures[0]` picks the
            pipeline tag and the Auto class in the usage snippets).
        repo_id: how users will load it (Hub id or path); defaults to a placeholder.
        model_name: the card's title (default: the last part of `repo_id`).
        datasets: dataset names (Hub ids or plain names) the model was trained / evaluated on.
        metrics: the run's metrics (`{"eval_accuracy": 0.91, ...}`); `eval_*` / `test_*` numbers become the
            model-index results (with the first dataset) and the Results table.
        training_args: a `TrainingArguments` whose main hyperparameters are listed.
    """
    config = _config_dict(config_or_model)
    architecture = (config.get("architectures") or [None])[0]
    pipeline_tag, auto_class = head_task(architecture)
    datasets = [d for d in (datasets or []) if d]
    numbers = _numeric_metrics(metrics)
    repo = repo_id or "<your-namespace>/<this-model>"
    name = model_name or repo.rsplit("/", 1)[-1]
    tag_list = list(dict.fromkeys([LIBRARY_TAG, "custom_code", *(tags or [])]))
    eval_results = None
    if numbers and datasets and pipeline_tag:
        eval_results = [
            EvalResult(
                task_type=pipeline_tag,
                dataset_type=datasets[0],
                dataset_name=datasets[0],
                metric_type=_metric_type(key),
                metric_name=key,
                metric_value=round(value, 6),
            )
            for key, value in numbers.items()
        ]
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag=pipeline_tag,
        tags=tag_list,
        license=license,
        datasets=datasets or None,
        base_model=base_model,
        language=language,
        metrics=sorted({_metric_type(k) for k in numbers}) or None,
        model_name=name,
        eval_results=eval_results,
    )
    sections = [
        f"# {name}",
        description or f"A Seedformer `{architecture or 'model'}` checkpoint.",
        _architecture_section(config),
        _usage_section(repo, auto_class, pipeline_tag),
    ]
    if numbers:
        sections.append(
            "## Results\n\n| metric | value |\n|---|---|\n"
            + "\n".join(f"| {k} | {v:.4g} |" for k, v in numbers.items())
            + ("\n\nDatasets: " + ", ".join(datasets) if datasets else "")
        )
    if training_args is not None:
        sections.append(_training_section(training_args))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _architecture_section(config: dict) -> str:
    keys = (
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
        "position_embedding_type",
        "norm_position",
        "norm_type",
        "hidden_act",
    )
    if config.get("is_encoder_decoder"):
        keys += ("is_encoder_decoder", "decoder_layers", "decoder_attention_heads", "decoder_ffn_dim")
    rows = "\n".join(f"| `{k}` | `{config[k]}` |" for k in keys if k in config)
    return f"## Architecture\n\n| field | value |\n|---|---|\n{rows}"


def _usage_section(repo: str, auto_class: str, pipeline_tag: str | None) -> str:
    pipe = ""
    if pipeline_tag in ("fill-mask", "text-classification", "token-classification", "feature-extraction"):
        pipe = (
            f'\n\nOr as a pipeline: `pipeline("{pipeline_tag}", model="{repo}", trust_remote_code=True)` '
            "(drop `trust_remote_code` after `import seedformer`)."
        )
    return (
        "## Usage\n\n"
        "With the `seedformer` package installed (`pip install seedformer`; the classes register themselves):\n\n"
        "```python\nimport seedformer  # registers the model type with the Auto classes\n"
        f"from transformers import AutoTokenizer, {auto_class}\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{repo}")\n'
        f'model = {auto_class}.from_pretrained("{repo}")\n```\n\n'
        "Without it: the checkpoint carries its own code (it imports only torch and transformers), which "
        "transformers runs once you trust it. The tokenizer is a stock fast tokenizer; `trust_remote_code=False` "
        "loads it without running any custom code (without an answer, transformers would stop to ask about the "
        "model's code, because `AutoTokenizer` reads `config.json` first):\n\n"
        f"```python\nfrom transformers import AutoTokenizer, {auto_class}\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{repo}", trust_remote_code=False)\n'
        f'model = {auto_class}.from_pretrained("{repo}", trust_remote_code=True)\n```\n\n'
        "Weights are stored as safetensors; Seedformer refuses pickled `.bin` weights unless you pass "
        f"`allow_pickle=True`.{pipe}"
    )


def _training_section(args) -> str:
    keys = (
        "learning_rate",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "num_train_epochs",
        "max_steps",
        "warmup_steps",
        "weight_decay",
        "lr_scheduler_type",
        "optim",
        "seed",
        "bf16",
        "fp16",
    )

    def show(value):
        return getattr(value, "value", value)  # enums (scheduler, optimizer) by their CLI value

    rows = "\n".join(f"| `{k}` | `{show(getattr(args, k))}` |" for k in keys if hasattr(args, k))
    return f"## Training hyperparameters\n\n| argument | value |\n|---|---|\n{rows}"


def write_model_card(
    folder: str | os.PathLike,
    *,
    push: bool = False,
    repo_id: str | None = None,
    token: str | None = None,
    **card_fields,
) -> Path:
    """Write `folder/README.md` for the checkpoint saved in `folder` (see `build_model_card` for the fields).

    With `push=True` the card is also uploaded to `repo_id` (created if missing), after what the Trainer pushed.
    Returns the README path.
    """
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if push:
        from huggingface_hub import create_repo

        repo_id = create_repo(repo_id or folder.resolve().name, exist_ok=True, token=token).repo_id
    card_fields.setdefault("model_name", (repo_id or folder.resolve().name).rsplit("/", 1)[-1])
    card = build_model_card(config, repo_id=repo_id, **card_fields)
    path = folder / "README.md"
    card.save(path)
    if push:
        from huggingface_hub import upload_file

        upload_file(
            path_or_fileobj=str(path),
            path_in_repo="README.md",
            repo_id=repo_id,
            token=token,
            commit_message="Seedformer model card",
        )
    return path


def card_fields_from_args(model_args=None, data_args=None) -> dict:
    """`datasets` / `base_model` for a script's card, from its argument dataclasses (missing fields are fine).

    A dataset is named by `--dataset_name`, else by `--data_dir`'s folder or the folder of `--train_file`
    (`.../imdb/train.jsonl.gz` -> "imdb"); the base model only when `--model_name_or_path` is a Hub id, not a local
    folder.
    """
    fields: dict = {}
    name = getattr(data_args, "dataset_name", None)
    train_file = getattr(data_args, "train_file", None)
    data_dir = getattr(data_args, "data_dir", None)
    if name:
        fields["datasets"] = [Path(name).name if os.path.isdir(name) else name]
    elif train_file or data_dir:
        fields["datasets"] = [Path(data_dir).name if data_dir else Path(train_file).parent.name]
    base = getattr(model_args, "model_name_or_path", None)
    if base and not os.path.exists(base) and base.count("/") == 1:
        fields["base_model"] = base
    return fields


def write_run_model_card(training_args, metrics: Mapping | None = None, **card_fields) -> Path | None:
    """End-of-training hook for the scripts: card in `output_dir` (main process only), pushed if `--push_to_hub`."""
    if not getattr(training_args, "should_save", True):
        return None
    output_dir = Path(training_args.output_dir)
    if not (output_dir / "config.json").is_file():
        return None  # nothing was saved (e.g. --do_train off): no checkpoint to describe
    if (output_dir / "adapter_config.json").is_file():
        return None  # a LoRA adapter: peft writes its own card, and the weights here are not a full model
    return write_model_card(
        training_args.output_dir,
        push=bool(training_args.push_to_hub),
        repo_id=training_args.hub_model_id,
        token=getattr(training_args, "hub_token", None),
        metrics=metrics,
        training_args=training_args,
        **card_fields,
    )


def card_for_push(model, repo_id: str, token=None, tags: str | list[str] | None = None) -> ModelCard:
    """The card a push should carry: the one already on the Hub (tagged), else a fresh Seedformer card."""
    from huggingface_hub.errors import EntryNotFoundError

    tags = list(
        dict.fromkeys([LIBRARY_TAG, *(model.model_tags or []), *([tags] if isinstance(tags, str) else tags or [])])
    )
    try:
        card = ModelCard.load(repo_id, token=token)
    except EntryNotFoundError:
        return build_model_card(model, repo_id=repo_id, tags=tags)
    if TRANSFORMERS_PLACEHOLDER_CARD in card.content:  # e.g. from an earlier `tokenizer.push_to_hub`: nothing to keep
        return build_model_card(model, repo_id=repo_id, tags=[*(card.data.tags or []), *tags])
    card.data.tags = list(dict.fromkeys([*(card.data.tags or []), *tags]))
    return card


def push_model_to_hub(
    model,
    repo_id: str,
    *,
    commit_message: str | None = None,
    commit_description: str | None = None,
    private: bool | None = None,
    token: bool | str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    max_shard_size: int | str | None = "50GB",
    tags: list[str] | None = None,
):
    """`PushToHubMixin.push_to_hub` for Seedformer models: same arguments, one commit with the weights, config,
    code (written by the model's `save_pretrained`) and a Seedformer model card, through `huggingface_hub`'s public
    API. A card already on the Hub (say, from a training run) is kept and only gains the tags."""
    from huggingface_hub import HfApi

    api = HfApi()
    repo_id = api.create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
    card = card_for_push(model, repo_id, token=token, tags=tags)
    if revision is not None and not revision.startswith("refs/pr"):
        api.create_branch(repo_id=repo_id, branch=revision, token=token, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)
        card.save(os.path.join(tmp, "README.md"))
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=tmp,
            commit_message=commit_message or "Upload model",
            commit_description=commit_description,
            token=token,
            revision=revision,
            create_pr=create_pr,
        )


__all__ = [
    "build_model_card",
    "card_fields_from_args",
    "card_for_push",
    "head_task",
    "push_model_to_hub",
    "write_model_card",
    "write_run_model_card",
]
