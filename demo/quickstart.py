"""The main job: corpus -> WordPiece tokenizer -> pretrained Seedformer -> sentiment classifier -> served pipeline.

Every stage is the library a user would call themselves (`seedformer.tokenization`, `seedformer.pretraining`,
`seedformer.finetuning`, the stock `Trainer` and `pipeline`); this module only wires them together, times them and
reports. `scripts/quickstart.py` is its command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

DEMO_SENTENCES = [
    "What a great movie. The cast is superb and the ending moved me to tears.",
    "A real disappointment. The plot makes no sense and the pacing drags on forever.",
    "I enjoyed every minute, the soundtrack is a joy to watch.",
    "Skip it. The dialogue is lazy and the villain is forgettable.",
]


@dataclass
class QuickstartArguments:
    output_dir: str = field(default="runs/quickstart", metadata={"help": "Where every stage writes its output."})
    train_file: str | None = field(
        default=None,
        metadata={
            "help": "Labelled corpus (jsonl/json/csv/tsv/parquet, optionally .gz) instead of the embedded reviews, "
            "e.g. ../shared/data/imdb/train.jsonl.gz."
        },
    )
    dataset_name: str | None = field(
        default=None, metadata={"help": "A `datasets` dataset with a train split instead."}
    )
    dataset_config_name: str | None = field(default=None)
    text_column: str = field(default="text")
    label_column: str = field(default="label")
    class_names: str | None = field(
        default=None,
        metadata={
            "help": "Names of integer labels 0..n-1, comma-separated in id order (IMDB: negative,positive); "
            "the classifier's id2label, shown by the pipeline and the summary."
        },
    )
    max_examples: int = field(
        default=2000, metadata={"help": "Examples used (a seeded random subset of real corpora)."}
    )
    validation_fraction: float = field(default=0.1)
    vocab_size: int = field(default=2000)
    max_seq_length: int = field(default=64)
    preset: str = field(
        default="cpu_small",
        metadata={
            "help": "Pretraining recipe (seedformer.pretraining.recipes) or config preset: its model shape, masking "
            "rate and optimiser settings, except the sizes given below."
        },
    )
    hidden_size: int | None = field(default=None, metadata={"help": "Model width (default: the preset's)."})
    num_hidden_layers: int | None = field(default=None, metadata={"help": "Depth (default: the preset's)."})
    num_attention_heads: int | None = field(default=None)
    intermediate_size: int | None = field(default=None)
    pretrain_steps: int = field(default=300, metadata={"help": "Bounded pretraining (MLM) budget in optimizer steps."})
    pretrain_batch_size: int = field(default=32)
    compare_random_init: bool = field(
        default=True,
        metadata={
            "help": "Also finetune the same architecture from random initialisation with the same protocol, and "
            "report pretrained vs random init (what the pretraining bought on this task)."
        },
    )
    finetune_epochs: float = field(default=2.0)
    finetune_learning_rate: float = field(default=5e-4)
    seed: int = field(default=0)

    def __post_init__(self):
        from seedformer.pretraining.recipes import RECIPES

        if self.preset not in RECIPES:  # a bare config preset has no learning rate or masking rate to train with
            raise ValueError(f"--preset must name a pretraining recipe ({', '.join(RECIPES)}), got {self.preset!r}.")


@dataclass
class StageResult:
    stage: str
    seconds: float
    result: str


def _stage(name: str) -> float:
    print(f"\n=== {name} " + "=" * max(0, 70 - len(name)), flush=True)
    return time.perf_counter()


def load_examples(args: QuickstartArguments):
    """A shuffled `DatasetDict` with train / validation splits of {text, label}."""
    from datasets import ClassLabel, Dataset, Value, load_dataset

    from seedformer.data.readers import DataSource, check_label_column, check_text_column, read_data_file
    from seedformer.demo.corpus import build_corpus

    if args.train_file or args.dataset_name:
        if args.train_file:
            data = read_data_file(args.train_file, txt_as=None, needs="the quickstart (text and label columns)")
        else:
            data = load_dataset(args.dataset_name, args.dataset_config_name, split="train")
        missing = {args.text_column, args.label_column} - set(data.column_names)
        if missing:
            raise ValueError(f"Columns {sorted(missing)} not in the corpus (it has {data.column_names}).")
        source = DataSource.of("train", args.train_file)
        check_text_column(data, args.text_column, source, allow_null=True)  # blank texts are dropped below
        check_label_column(data, args.label_column, source)
        data = data.select_columns([args.text_column, args.label_column]).rename_columns(
            {args.text_column: "text", args.label_column: "label"}
        )
        data = data.filter(lambda row: bool(row["text"] and row["text"].strip()))
        label_feature = data.features["label"]
        if isinstance(label_feature, ClassLabel) and args.class_names is None:
            # the data names its classes (a `datasets` ClassLabel): keep the names, the jsonl files hold the ids only
            features = data.features.copy()
            features["label"] = Value("string")
            data = data.map(lambda row: {"label": label_feature.int2str(row["label"])}, features=features)
        data = data.shuffle(seed=args.seed).select(range(min(args.max_examples, len(data))))
    else:
        names = ("negative", "positive")
        data = Dataset.from_list(
            [{**row, "label": names[row["label"]]} for row in build_corpus(args.max_examples, seed=args.seed)]
        )
    if len(data) < 20:
        raise ValueError(f"Need at least 20 labelled examples, got {len(data)}.")
    return data.train_test_split(test_size=args.validation_fraction, seed=args.seed)


def loss_history(trainer_dir: Path) -> list[tuple[int, float]]:
    state = json.loads((trainer_dir / "trainer_state.json").read_text())
    return [(h["step"], h["loss"]) for h in state["log_history"] if "loss" in h]


def plot_losses(curves: dict[str, list[tuple[int, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5))
    for ax, (title, points) in zip(axes, curves.items()):
        ax.plot([s for s, _ in points], [v for _, v in points], marker=".")
        ax.set(title=title, xlabel="step", ylabel="training loss")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import seedformer  # the installed plugin: no trust_remote_code needed
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    path, sentences = sys.argv[1], json.loads(sys.argv[2])
    model = AutoModelForSequenceClassification.from_pretrained(path)
    classifier = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(path))
    print(json.dumps(classifier(sentences)))
    """
)


def reload_and_classify(checkpoint: Path, sentences: list[str]) -> list[dict]:
    """Load the saved classifier in a fresh Python process and run `pipeline("text-classification")`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", RELOAD_SCRIPT, str(checkpoint), json.dumps(sentences)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Reloading {checkpoint} in a fresh process failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def save_random_init(pretrained: Path, out: Path, seed: int) -> None:
    """The pretrained model's architecture and tokenizer with fresh random weights: the control that shows what
    pretraining bought (finetuned with the same protocol, it differs from the pretrained run only in its weights)."""
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer, set_seed

    set_seed(seed)
    AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(pretrained)).save_pretrained(out)
    AutoTokenizer.from_pretrained(pretrained).save_pretrained(out)


def run_quickstart(args: QuickstartArguments) -> list[StageResult]:
    from transformers import TrainingArguments

    from seedformer.finetuning.arguments import DataArguments as FinetuneData
    from seedformer.finetuning.arguments import ModelArguments as FinetuneModel
    from seedformer.finetuning.runner import run_finetuning
    from seedformer.pretraining.arguments import DataArguments as PretrainData
    from seedformer.pretraining.arguments import ModelArguments as PretrainModel
    from seedformer.pretraining.arguments import PretrainingArguments
    from seedformer.pretraining.recipes import apply_recipe
    from seedformer.pretraining.run import pretrain
    from seedformer.tokenization import train_tokenizer

    out = Path(args.output_dir)
    data_dir, tokenizer_dir, pretrain_dir, classifier_dir, random_dir = (
        out / n for n in ("data", "tokenizer", "pretrained", "classifier", "random_init")
    )
    n_stages = 6 if args.compare_random_init else 5
    data_dir.mkdir(parents=True, exist_ok=True)
    stages: list[StageResult] = []
    common = dict(use_cpu=True, report_to="none", seed=args.seed, logging_steps=10, dataloader_num_workers=0)

    start = _stage(f"1/{n_stages} data")
    splits = load_examples(args)
    label_feature = splits["train"].features["label"]
    if args.class_names is None and getattr(label_feature, "dtype", "").startswith("int"):
        print(
            "  the labels are integer ids: the classifier will call them '0', '1', ...; name them with "
            "--class_names (IMDB: --class_names negative,positive)"
        )
    for split, name in (("train", "train"), ("test", "validation")):
        splits[split].to_json(data_dir / f"{name}.jsonl")
    stages.append(
        StageResult(
            "data",
            time.perf_counter() - start,
            f"{len(splits['train'])} train / {len(splits['test'])} validation examples",
        )
    )

    start = _stage(f"2/{n_stages} WordPiece tokenizer")
    tokenizer = train_tokenizer(
        splits["train"]["text"],
        algorithm="wordpiece",
        vocab_size=args.vocab_size,
        model_max_length=args.max_seq_length,
    )
    tokenizer.save_pretrained(tokenizer_dir)
    stages.append(StageResult("tokenizer", time.perf_counter() - start, f"vocabulary {len(tokenizer)}"))

    start = _stage(f"3/{n_stages} pretraining (masked LM, recipe {args.preset})")
    sizes = ",".join(
        f"{name}={getattr(args, name)}"
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
        if getattr(args, name) is not None
    )
    # The recipe fills the learning rate, schedule, masking rate and the rest; the sizes given here stay, even where
    # they equal a dataclass default (`--pretrain_batch_size 8`).
    pretrain_args = (
        PretrainModel(tokenizer_name=str(tokenizer_dir), preset=args.preset, config_overrides=sizes or None),
        PretrainData(
            train_file=str(data_dir / "train.jsonl"),
            validation_file=str(data_dir / "validation.jsonl"),
            max_seq_length=args.max_seq_length,
            objective="mlm",
        ),
        PretrainingArguments(
            output_dir=str(pretrain_dir),
            do_train=True,
            do_eval=True,
            max_steps=args.pretrain_steps,
            per_device_train_batch_size=args.pretrain_batch_size,
            save_strategy="no",
            **{**common, "logging_steps": max(1, min(10, args.pretrain_steps // 5))},
        ),
    )
    apply_recipe(*pretrain_args, keep={"max_seq_length", "max_steps", "per_device_train_batch_size", *common})
    pretrain_metrics = pretrain(*pretrain_args)
    stages.append(
        StageResult(
            "pretraining",
            time.perf_counter() - start,
            f"MLM loss {loss_history(pretrain_dir)[0][1]:.3f} -> eval {pretrain_metrics['eval_loss']:.3f} "
            f"(perplexity {pretrain_metrics['eval_perplexity']:.1f}, "
            f"masked-token accuracy {pretrain_metrics['eval_mlm_accuracy']:.3f})",
        )
    )

    def finetune(model_path: Path, output_dir: Path) -> dict:
        return run_finetuning(
            FinetuneModel(model_name_or_path=str(model_path)),
            FinetuneData(
                task="text-classification",
                train_file=str(data_dir / "train.jsonl"),
                validation_file=str(data_dir / "validation.jsonl"),
                text_column="text",
                label_column="label",
                class_names=args.class_names,
                max_seq_length=args.max_seq_length,
            ),
            TrainingArguments(
                output_dir=str(output_dir),
                do_train=True,
                do_eval=True,
                num_train_epochs=args.finetune_epochs,
                per_device_train_batch_size=32,
                learning_rate=args.finetune_learning_rate,
                warmup_steps=10,
                eval_strategy="epoch",
                save_strategy="epoch",
                save_total_limit=1,
                load_best_model_at_end=True,
                **common,
            ),
        )

    start = _stage(f"4/{n_stages} finetuning (text classification)")
    finetune_metrics = finetune(pretrain_dir, classifier_dir)
    stages.append(
        StageResult(
            "finetuning",
            time.perf_counter() - start,
            f"eval accuracy {finetune_metrics['eval_accuracy']:.3f}, eval loss {finetune_metrics['eval_loss']:.3f}",
        )
    )

    control_metrics = None
    if args.compare_random_init:
        start = _stage(f"5/{n_stages} control: the same finetuning from random initialisation")
        save_random_init(pretrain_dir, random_dir, seed=args.seed)
        control_metrics = finetune(random_dir, random_dir / "classifier")
        gain = finetune_metrics["eval_accuracy"] - control_metrics["eval_accuracy"]
        stages.append(
            StageResult(
                "random-init control",
                time.perf_counter() - start,
                f"eval accuracy {control_metrics['eval_accuracy']:.3f}: pretrained vs random init "
                f"{finetune_metrics['eval_accuracy']:.3f} vs {control_metrics['eval_accuracy']:.3f} ({gain:+.3f})",
            )
        )

    start = _stage(f"{n_stages}/{n_stages} reload in a fresh process + pipeline")
    predictions = reload_and_classify(classifier_dir, DEMO_SENTENCES)
    for sentence, prediction in zip(DEMO_SENTENCES, predictions):
        print(f"  {prediction['label']:>8} {prediction['score']:.3f}  {sentence}")
    stages.append(
        StageResult("reload + pipeline", time.perf_counter() - start, ", ".join(p["label"] for p in predictions))
    )

    curves = {
        "pretraining (MLM)": loss_history(pretrain_dir),
        "finetuning (classification)": loss_history(classifier_dir),
    }
    plot_losses(curves, classifier_dir / "loss_curves.png")
    summary = {
        "stages": [s.__dict__ for s in stages],
        "pretraining": {k: v for k, v in pretrain_metrics.items() if k != "log_history"},
        "finetuning": finetune_metrics,
        "random_init_finetuning": control_metrics,
        "predictions": dict(zip(DEMO_SENTENCES, predictions)),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print_summary(stages, classifier_dir)
    return stages


def print_summary(stages: list[StageResult], classifier_dir: Path) -> None:
    width = max(len(s.stage) for s in stages)
    print("\n" + "-" * 100)
    print(f"{'stage':<{width}}  {'time':>7}  result")
    for s in stages:
        print(f"{s.stage:<{width}}  {s.seconds:6.1f}s  {s.result}")
    print(f"{'total':<{width}}  {sum(s.seconds for s in stages):6.1f}s")
    print("-" * 100)
    print(f"classifier: {classifier_dir}   loss curves: {classifier_dir / 'loss_curves.png'}")
