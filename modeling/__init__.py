from .modeling_seedformer import (
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
)

__all__ = [
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
]
