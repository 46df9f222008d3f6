"""Sequence-to-sequence generation pipeline, registered as `"seq2seq-generation"`.

transformers 5 removed `text2text-generation`, `translation` and `summarization` and refuses those task names even
for a custom pipeline, so this one lives under its own name (registered on `import seedformer`) and serves any
`AutoModelForSeq2SeqLM` checkpoint (Seedformer, BART, T5, ...):

    gen = pipeline("seq2seq-generation", model="path/to/seq2seq-checkpoint")
    gen("A man is riding a bike.", num_beams=4, max_new_tokens=40)
    -> [{"generated_text": "Ein Mann fährt Fahrrad."}]
    gen(["first", "second"], batch_size=8, num_return_sequences=2)   # batched; a list of lists

Every keyword that is not a pipeline option is passed to `model.generate()` (num_beams, do_sample, top_k,
max_new_tokens, num_return_sequences, ...).
"""

from __future__ import annotations

from transformers import AutoModelForSeq2SeqLM
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.base import Pipeline

TASK = "seq2seq-generation"


class Seq2SeqGenerationPipeline(Pipeline):
    """Text in, generated text out. Inputs: a string or a list of strings. Outputs per input: a list of
    `{"generated_text": str}` (one per returned sequence; `{"generated_token_ids": tensor}` with `return_tensors=True`).
    For a list of inputs with one sequence each, the inner lists are flattened (as transformers 4's text2text did)."""

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True
    # Lets the base class set aside generation parameters given at construction (pipeline(..., num_beams=4)).
    _pipeline_calls_generate = True

    def _sanitize_parameters(
        self,
        prefix=None,
        truncation=None,
        max_source_length=None,
        return_tensors=None,
        skip_special_tokens=None,
        clean_up_tokenization_spaces=None,
        **generate_kwargs,
    ):
        preprocess, postprocess = {}, {}
        if prefix is not None:
            preprocess["prefix"] = prefix
        if truncation is not None:
            preprocess["truncation"] = truncation
        if max_source_length is not None:
            preprocess["max_source_length"] = max_source_length
        if return_tensors is not None:
            postprocess["return_tensors"] = return_tensors
        if skip_special_tokens is not None:
            postprocess["skip_special_tokens"] = skip_special_tokens
        if clean_up_tokenization_spaces is not None:
            postprocess["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return preprocess, generate_kwargs, postprocess

    def __call__(self, inputs, **kwargs):
        result = super().__call__(inputs, **kwargs)
        if isinstance(inputs, list) and all(len(r) == 1 for r in result):
            return [r[0] for r in result]
        return result

    def preprocess(self, text, prefix: str = "", truncation: bool = True, max_source_length: int | None = None):
        if not isinstance(text, str):
            raise ValueError(f"`seq2seq-generation` takes a string or a list of strings, got {type(text).__name__}.")
        if max_source_length is None:
            max_source_length = getattr(self.model.config, "max_position_embeddings", None)
        features = self.tokenizer(
            prefix + text,
            truncation=truncation,
            max_length=max_source_length if truncation else None,
            return_tensors="pt",
        )
        # Segment ids carry nothing for a single text, and models without segment embeddings reject them.
        features.pop("token_type_ids", None)
        return features

    def _forward(self, model_inputs, **generate_kwargs):
        batch_size = model_inputs["input_ids"].shape[0]
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **generate_kwargs)
        # (B * num_return_sequences, L) -> (B, num_return_sequences, L) so the batch unrolls per input.
        return {"output_ids": output_ids.reshape(batch_size, output_ids.shape[0] // batch_size, -1)}

    def postprocess(
        self, model_outputs, return_tensors=False, skip_special_tokens=True, clean_up_tokenization_spaces=None
    ):
        records = []
        for ids in model_outputs["output_ids"][0]:
            if return_tensors:
                records.append({"generated_token_ids": ids})
            else:
                text = self.tokenizer.decode(
                    ids,
                    skip_special_tokens=skip_special_tokens,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces,
                )
                records.append({"generated_text": text.strip()})
        return records


def register_pipeline() -> None:
    """Make `pipeline("seq2seq-generation", model=...)` available (idempotent)."""
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=Seq2SeqGenerationPipeline, pt_model=AutoModelForSeq2SeqLM, type="text"
    )


__all__ = ["TASK", "Seq2SeqGenerationPipeline", "register_pipeline"]
