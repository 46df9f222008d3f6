"""Custom pipelines for the tasks transformers 5 no longer ships (registered on `import seedformer`)."""

from .question_answering import ExtractiveQuestionAnsweringPipeline  # noqa: E402,F401
