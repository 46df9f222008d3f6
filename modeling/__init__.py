from .decoder import SeedformerDecoder
from .modeling_seedformer import (
    SeedformerForMaskedLM,
    SeedformerForMultipleChoice,
    SeedformerForNextSentencePrediction,
    SeedformerForPreTraining,
    SeedformerForPreTrainingOutput,
    SeedformerForQuestionAnswering,
    SeedformerForReplacedTokenDetection,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
    SeedformerModel,
    SeedformerPreTrainedModel,
)
from .modeling_seq2seq import SeedformerForConditionalGeneration, SeedformerSeq2SeqModel

__all__ = [
    "SeedformerDecoder",
    "SeedformerForConditionalGeneration",
    "SeedformerSeq2SeqModel",
    "SeedformerForMaskedLM",
    "SeedformerForMultipleChoice",
    "SeedformerForNextSentencePrediction",
    "SeedformerForPreTraining",
    "SeedformerForPreTrainingOutput",
    "SeedformerForQuestionAnswering",
    "SeedformerForReplacedTokenDetection",
    "SeedformerForSequenceClassification",
    "SeedformerForTokenClassification",
    "SeedformerModel",
    "SeedformerPreTrainedModel",
]
