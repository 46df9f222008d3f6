"""Seedformer: a Transformer encoder (with an optional decoder) that plugs into Hugging Face transformers.

`import seedformer` registers the config and the models with the Auto classes and the two pipelines (extractive QA,
seq2seq generation), and keeps the repository's other folders (tests/, scripts/, docs/) out of the `seedformer`
namespace in an editable install (source_layout.py); nothing else (no peft import, no edits to other libraries'
tables). After it every stock tool works on Seedformer checkpoints: `AutoModel*.from_pretrained`, `Trainer`,
`pipeline`, and `peft` with `target_modules=SEEDFORMER_LORA_TARGET_MODULES` (from `seedformer.finetuning.lora`). The
command line: `seedformer --help`.
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
from .source_layout import install as _install_layout_finder

__version__ = "0.1.0"

_install_layout_finder()
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
