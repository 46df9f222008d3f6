"""Registration of the Seedformer family with transformers' Auto classes (run on `import seedformer`)."""

from __future__ import annotations

import transformers

from .configuration import SeedformerConfig
from .modeling import modeling_seedformer as m
from .modeling import modeling_seq2seq as s2s

# Auto class name -> model class. The single source of truth: the remote-code export writes the same table
# into each checkpoint's `auto_map`.
AUTO_CLASSES: dict[str, type] = {
    "AutoModel": m.SeedformerModel,
    "AutoModelForMaskedLM": m.SeedformerForMaskedLM,
    "AutoModelForPreTraining": m.SeedformerForPreTraining,
    "AutoModelForSequenceClassification": m.SeedformerForSequenceClassification,
    "AutoModelForTokenClassification": m.SeedformerForTokenClassification,
    "AutoModelForQuestionAnswering": m.SeedformerForQuestionAnswering,
    "AutoModelForMultipleChoice": m.SeedformerForMultipleChoice,
    "AutoModelForNextSentencePrediction": m.SeedformerForNextSentencePrediction,
    "AutoModelForSeq2SeqLM": s2s.SeedformerForConditionalGeneration,
}


def register() -> None:
    """Register the config and every model class; safe to call any number of times."""
    transformers.AutoConfig.register(SeedformerConfig.model_type, SeedformerConfig, exist_ok=True)
    for auto_name, model_class in AUTO_CLASSES.items():
        getattr(transformers, auto_name).register(SeedformerConfig, model_class, exist_ok=True)
    # Extractive QA pipeline (transformers 5 dropped its own). No peft here: LoRA targets are passed explicitly
    # (finetuning/lora.py), so importing seedformer neither imports peft nor edits its tables.
    from .pipelines.question_answering import register_pipeline as register_question_answering_pipeline

    register_question_answering_pipeline()
    from .pipelines.seq2seq import register_pipeline as register_seq2seq_pipeline

    register_seq2seq_pipeline()
