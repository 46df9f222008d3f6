"""Tiny checkpoints, toy data and script runners shared by test_finetuning / test_lora / test_pipelines."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

from conftest import REPO, tiny_config
from transformers import PreTrainedTokenizerFast

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"]
PLACES = ["paris", "rome", "oslo", "lima"]
POSITIVE = ["good", "great", "fine", "nice"]
NEGATIVE = ["bad", "awful", "poor", "sad"]
FILLER = [
    "the",
    "a",
    "film",
    "was",
    "and",
    "it",
    "i",
    "saw",
    "in",
    "with",
    "who",
    "where",
    "is",
    "this",
    "yes",
    "no",
    "entailment",
    "neutral",
    "contradiction",
    "about",
    "example",
    ".",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# "##s" lets plural names split into two sub-tokens ("alices" -> "alice", "##s") for label-alignment tests.
VOCAB = SPECIALS + NAMES + PLACES + POSITIVE + NEGATIVE + FILLER + ["smith", "##s"]


def make_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    backend = Tokenizer(models.WordPiece({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def save_checkpoint(path: Path, model_class=None, **config_overrides) -> Path:
    """A tiny random Seedformer (`model_class`, default the bare encoder) + tokenizer in `path`."""
    import torch

    from seedformer import SeedformerModel

    torch.manual_seed(0)  # module-scoped fixtures run before conftest's per-test seed
    config = tiny_config(vocab_size=len(VOCAB), **config_overrides)
    model_class = model_class or SeedformerModel
    model = model_class.from_config(config) if model_class.__name__.startswith("Auto") else model_class(config)
    model.save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    with open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRAIN_FLAGS = [
    "--use_cpu",
    "--report_to",
    "none",
    "--disable_tqdm",
    "true",
    "--seed",
    "0",
    "--per_device_train_batch_size",
    "8",
    "--per_device_eval_batch_size",
    "16",
    "--logging_steps",
    "1",
    "--lr_scheduler_type",
    "constant",
]


# --- toy data sets (deterministic, learnable by a tiny model in a few dozen steps) ---------------------------
def sentiment_rows(n: int, seed: int) -> list[dict]:
    """label "pos" iff the sentence holds a positive word; the only signal is that one word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["neg", "pos"])
        words = rng.sample(FILLER[:10], 4) + [rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def ner_sentences(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Names are B-PER (a following "smith" is I-PER), places B-LOC; some names are plural to force sub-tokens."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(4, 8)):
            kind = rng.random()
            if kind < 0.25:
                tokens.append(rng.choice(NAMES) + ("s" if rng.random() < 0.3 else ""))
                tags.append("B-PER")
                if rng.random() < 0.4:
                    tokens.append("smith")
                    tags.append("I-PER")
            elif kind < 0.4:
                tokens.append(rng.choice(PLACES))
                tags.append("B-LOC")
            else:
                tokens.append(rng.choice(FILLER[:10]))
                tags.append("O")
        out.append((tokens, tags))
    return out


def write_conll(path: Path, sentences) -> Path:
    with open(path, "w") as handle:
        handle.write("-DOCSTART- -X- O\n\n")
        for tokens, tags in sentences:
            for token, tag in zip(tokens, tags):
                handle.write(f"{token} NN {tag}\n")
            handle.write("\n")
    return path


def qa_rows(n: int, seed: int, context_words: int = 12) -> list[dict]:
    """ "who ..." questions; the answer is the only name in a context of filler words (and a place)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words = [rng.choice(FILLER[:10] + PLACES) for _ in range(context_words)]
        position = rng.randrange(len(words))
        name = rng.choice(NAMES)
        words[position] = name
        context = " ".join(words)
        start = len(" ".join(words[:position])) + (1 if position else 0)
        rows.append(
            {
                "id": f"q{i}",
                "question": "who is in this example ?",
                "context": context,
                "answers": {"text": [name], "answer_start": [start]},
            }
        )
    return rows


def swag_rows(n: int, seed: int) -> list[dict]:
    """The right ending repeats the context's name; the others hold a different name."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        names = rng.sample(NAMES, 4)
        label = rng.randrange(4)
        endings = [f"with {names[j if j != label else 0]} ." for j in range(4)]
        endings = [endings[j] if j == label else f"with {names[j] if j else names[1]} ." for j in range(4)]
        row = {"sent1": f"{names[0]} saw the film", "sent2": "it was", "label": label}
        row.update({f"ending{j}": e for j, e in enumerate(endings)})
        rows.append(row)
    return rows
