"""Seedformer: a Transformer encoder (with an optional decoder) that plugs into Hugging Face transformers.

`import seedformer` registers the model family with the Auto classes, after which every stock tool
(`AutoModel*.from_pretrained`, `Trainer`, `pipeline`, `peft`) works on Seedformer checkpoints.
"""

from huggingface_hub.errors import StrictDataclassError as ConfigValidationError

from .configuration import SeedformerConfig
from .modeling import (
    SeedformerDecoder,
    SeedformerForConditionalGeneration,
    SeedformerForMaskedLM,
    SeedformerForMultipleChoice,
    SeedformerForNextSentencePrediction,
    SeedformerForPreTraining,
    SeedformerForPreTrainingOutput,
    SeedformerForQuestionAnswering,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
    SeedformerModel,
    SeedformerPreTrainedModel,
    SeedformerSeq2SeqModel,
)
from .registration import register

__version__ = "0.1.0"

register()

__all__ = [
    "SeedformerDecoder",
    "SeedformerForConditionalGeneration",
    "SeedformerSeq2SeqModel",
    "ConfigValidationError",
    "SeedformerConfig",
    "SeedformerForMaskedLM",
    "SeedformerForMultipleChoice",
    "SeedformerForNextSentencePrediction",
    "SeedformerForPreTraining",
    "SeedformerForPreTrainingOutput",
    "SeedformerForQuestionAnswering",
    "SeedformerForSequenceClassification",
    "SeedformerForTokenClassification",
    "SeedformerModel",
    "SeedformerPreTrainedModel",
    "register",
]
