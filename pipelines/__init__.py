"""Inference: custom pipelines for the tasks transformers 5 no longer ships (registered on `import seedformer`), and
sentence embeddings (`pipelines.features`, not imported here: it is not a registered pipeline)."""

from .question_answering import ExtractiveQuestionAnsweringPipeline  # noqa: E402,F401
from .seq2seq import Seq2SeqGenerationPipeline  # noqa: E402,F401
