"""The stock Trainer on Seedformer heads: losses go down, and gradient accumulation does not change the loss."""

import pytest
import torch
from conftest import tiny_config
from datasets import Dataset
from transformers import (
    DataCollatorForLanguageModeling,
    PreTrainedTokenizerFast,
    Trainer,
    TrainingArguments,
    default_data_collator,
)

from seedformer import (
    SeedformerForMaskedLM,
    SeedformerForNextSentencePrediction,
    SeedformerForPreTraining,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
)

SENTENCES = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a bird sang in the tree",
    "the cat chased the dog",
    "a fish swam in the pond",
    "the dog chased the bird",
]


def word_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = sorted({w for s in SENTENCES for w in s.split()})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate(specials + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=32,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def args(tmp_path, **overrides):
    defaults = dict(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        per_device_train_batch_size=8,
        learning_rate=3e-3,
        seed=0,
        dataloader_drop_last=True,
        disable_tqdm=True,
    )
    return TrainingArguments(**{**defaults, **overrides})


@pytest.mark.slow
def test_trainer_mlm_loss_goes_down(tmp_path):
    tokenizer = word_tokenizer()
    dataset = Dataset.from_dict({"text": SENTENCES * 40}).map(
        lambda b: tokenizer(b["text"], return_special_tokens_mask=True), batched=True, remove_columns=["text"]
    )
    model = SeedformerForMaskedLM(tiny_config(vocab_size=len(tokenizer)))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)
    trainer = Trainer(
        model=model, args=args(tmp_path, num_train_epochs=3), train_dataset=dataset, data_collator=collator
    )
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)


def fixed_batches(tokenizer, head):
    """A deterministic dataset (masking done up front) so batches of 8 and 4 x 2 see exactly the same labels."""
    g = torch.Generator().manual_seed(0)
    enc = tokenizer(SENTENCES + SENTENCES[:2], padding="max_length", max_length=10)
    rows = []
    for i, ids in enumerate(enc["input_ids"]):
        ids = torch.tensor(ids)
        row = {k: enc[k][i] for k in ("input_ids", "token_type_ids", "attention_mask")}
        if head in (SeedformerForMaskedLM, SeedformerForPreTraining):
            # uneven counts of masked tokens per example: exercises num_items_in_batch
            picks = torch.randperm(int((ids > 4).sum()), generator=g)[: 1 + i % 3] + 1
            labels = torch.full_like(ids, -100)
            labels[picks] = ids[picks]
            row["labels"] = labels.tolist()
            if head is SeedformerForPreTraining:
                row["next_sentence_label"] = i % 2
        elif head is SeedformerForTokenClassification:
            row["labels"] = [(t % 3) if m else -100 for t, m in zip(ids.tolist(), row["attention_mask"])]
        else:
            row["labels"] = i % 2
        rows.append(row)
    return Dataset.from_list(rows)


@pytest.mark.parametrize(
    "head",
    [
        SeedformerForMaskedLM,
        SeedformerForTokenClassification,
        SeedformerForSequenceClassification,
        SeedformerForPreTraining,
        SeedformerForNextSentencePrediction,
    ],
    ids=lambda c: c.__name__,
)
@pytest.mark.slow
def test_gradient_accumulation_logs_the_same_loss(tmp_path, head):
    tokenizer = word_tokenizer()
    dataset = fixed_batches(tokenizer, head)
    logged = []
    for batch_size, accumulation in ((8, 1), (2, 4)):
        torch.manual_seed(0)
        model = head(
            tiny_config(vocab_size=len(tokenizer), num_labels=3 if head is SeedformerForTokenClassification else 2)
        )
        trainer = Trainer(
            model=model,
            args=args(
                tmp_path, per_device_train_batch_size=batch_size, gradient_accumulation_steps=accumulation, max_steps=1
            ),
            train_dataset=dataset,
            data_collator=default_data_collator,
        )
        trainer.train()
        logged.append(trainer.state.log_history[0]["loss"])
    if head is SeedformerForPreTraining:
        # BERT's pretraining loss is a mean per micro-batch: exact only up to the uneven masked-token counts.
        assert logged[1] == pytest.approx(logged[0], rel=0.05)
    else:
        assert logged[1] == pytest.approx(logged[0], rel=1e-4)
