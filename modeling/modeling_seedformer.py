"""Seedformer models: the shared encoder backbone (`SeedformerModel`) and the thin task heads on top of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.loss.loss_utils import fixed_cross_entropy
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.processing_utils import Unpack
from transformers.utils import ModelOutput, TransformersKwargs
from transformers.utils.generic import can_return_tuple, merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from ..configuration.configuration_seedformer import UNPADDED_EXECUTION, SeedformerConfig
from .attention import SeedformerCrossAttention, SeedformerSelfAttention
from .embeddings import SeedformerEmbeddings, SeedformerRotaryEmbedding
from .layers import SeedformerEncoderLayer
from .norms import make_norm
from .padding import PackedSequences, QuerySubset, pad, unpad


def check_inputs(
    config: SeedformerConfig,
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    token_type_ids: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    past_length: int = 0,
    check_values: bool = True,
    fetch: tuple[torch.Tensor, ...] = (),
) -> list[list[int]]:
    """Raise a clear `ValueError` for malformed inputs before any kernel runs (an out-of-range id would otherwise
    surface as an opaque index error, or as a device-side assert on GPU): `check_input_shapes`, then
    `check_input_values` (see there for `check_values` and `fetch`)."""
    check_input_shapes(config, input_ids, inputs_embeds, attention_mask, token_type_ids, position_ids, past_length)
    return check_input_values(config, input_ids, token_type_ids, position_ids, check_values, fetch)


def check_input_shapes(
    config: SeedformerConfig,
    input_ids: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    token_type_ids: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    past_length: int = 0,
) -> tuple[int, int]:
    """Shape checks (free: no device sync). Returns the inputs' (batch, seq_len)."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
    if input_ids is not None:
        if input_ids.dim() != 2:
            raise ValueError(f"`input_ids` must have shape (batch, seq_len), got {tuple(input_ids.shape)}.")
        shape = tuple(input_ids.shape)
    else:
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != config.hidden_size:
            raise ValueError(
                f"`inputs_embeds` must have shape (batch, seq_len, {config.hidden_size}), got {tuple(inputs_embeds.shape)}."
            )
        shape = tuple(inputs_embeds.shape[:2])
    if shape[0] == 0:
        raise ValueError(f"The batch is empty (inputs of shape {shape}): pass at least one sequence.")
    if shape[1] == 0:
        raise ValueError(
            f"The sequences have length 0 (inputs of shape {shape}): every sequence needs at least one token"
            " (a tokenizer adds [CLS] / [SEP] unless `add_special_tokens=False`)."
        )
    if (
        config.position_embedding_type != "rope"
        and position_ids is None
        and shape[1] + past_length > config.max_position_embeddings
    ):
        raise ValueError(
            f"Sequence length {shape[1] + past_length} exceeds `max_position_embeddings` ({config.max_position_embeddings})."
            " Truncate the input (tokenizer(..., truncation=True, max_length=...))."
        )
    if (
        attention_mask is not None
        and attention_mask.dim() == 2
        and tuple(attention_mask.shape) != (shape[0], shape[1] + past_length)
    ):
        raise ValueError(
            f"`attention_mask` has shape {tuple(attention_mask.shape)} but the inputs have shape {shape}"
            + (f" (+{past_length} cached positions)." if past_length else ".")
        )
    if attention_mask is not None and attention_mask.dim() not in (2, 4):
        raise ValueError(f"`attention_mask` must be 2-D (batch, seq_len) or 4-D, got {attention_mask.dim()}-D.")
    if token_type_ids is not None and tuple(token_type_ids.shape) != shape:
        raise ValueError(
            f"`token_type_ids` has shape {tuple(token_type_ids.shape)} but the inputs have shape {shape}."
        )
    if position_ids is not None and position_ids.shape[-1] != shape[1]:
        raise ValueError(f"`position_ids` has shape {tuple(position_ids.shape)} but the inputs have shape {shape}.")
    return shape


def check_input_values(
    config: SeedformerConfig,
    input_ids: torch.Tensor | None,
    token_type_ids: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    check_values: bool = True,
    fetch: tuple[torch.Tensor, ...] = (),
) -> list[list[int]]:
    """Range checks of ids, token types and position ids. They need min/max on the host: all of them are stacked
    and copied in ONE transfer, i.e. one device sync per forward, not one per reduction (there were up to six).
    `fetch`: further integer tensors the caller needs on the host (the unpadding decision's token counts); they ride
    along in the same transfer and come back as lists, in order. `check_values=False` skips the range checks (the
    decoder's cached generation steps: generated ids come from the model's own vocabulary)."""
    # (tensor, allowed values [0, high), message, hint)
    ranges = []
    if check_values and not torch.compiler.is_compiling():
        if input_ids is not None:
            high = config.vocab_size
            ranges.append(
                (
                    input_ids,
                    high,
                    f"`input_ids` contains ids outside the vocabulary [0, {high})",
                    " Was the tokenizer trained with a larger vocabulary than `config.vocab_size`?",
                )
            )
        if token_type_ids is not None:
            high = max(config.type_vocab_size, 1)
            ranges.append(
                (token_type_ids, high, f"`token_type_ids` must be in [0, {high}) (config.type_vocab_size)", "")
            )
        if position_ids is not None and position_ids.numel() and config.position_embedding_type != "rope":
            high = config.max_position_embeddings
            ranges.append((position_ids, high, f"`position_ids` must be in [0, {high}) (max_position_embeddings)", ""))
    parts = [torch.stack([t.min(), t.max()]).long() for t, _, _, _ in ranges] + [t.reshape(-1).long() for t in fetch]
    if not parts:
        return []
    host = torch.cat(parts).tolist()  # the one host sync
    for index, (_, high, message, hint) in enumerate(ranges):
        low_seen, high_seen = host[2 * index], host[2 * index + 1]
        if low_seen < 0 or high_seen >= high:
            raise ValueError(f"{message}: min {low_seen}, max {high_seen}.{hint}")
    fetched, offset = [], 2 * len(ranges)
    for t in fetch:
        fetched.append(host[offset : offset + t.numel()])
        offset += t.numel()
    return fetched


class SeedformerPreTrainedModel(PreTrainedModel):
    config: SeedformerConfig
    config_class = SeedformerConfig
    base_model_prefix = "seedformer"
    supports_gradient_checkpointing = True
    _no_split_modules = ["SeedformerEmbeddings", "SeedformerEncoderLayer"]
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    # Every model traces as one graph (tests: torch.compile(fullgraph=True), and static-cache generation): compiled
    # forwards take the padded path. The exception is `sparse_prediction` with labels, whose number of predicted rows
    # is data-dependent (a graph break, as in ModernBERT's sparse head).
    _can_compile_fullgraph = True
    _can_record_outputs = {
        "hidden_states": SeedformerEncoderLayer,
        "attentions": OutputRecorder(SeedformerSelfAttention, index=1),
        "cross_attentions": OutputRecorder(SeedformerCrossAttention, index=1),
    }

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained` (same arguments), and the folder also gets the model code: the generated
        `configuration_seedformer.py` / `modeling_seedformer.py` and an `auto_map` for every Auto class, so
        `trust_remote_code=True` loads it where Seedformer is not installed (see `hub/export.py`).

        This method and `push_to_hub` reach into `hub/`, so the generated code leaves them out: its classes use
        transformers' own methods, which copy the generated files themselves."""
        from ..hub.export import save_pretrained_with_code

        return save_pretrained_with_code(self, super().save_pretrained, save_directory, *args, **kwargs)

    def push_to_hub(self, repo_id, **kwargs):
        """`PreTrainedModel.push_to_hub` (same arguments): one commit with the weights, config, code and a Seedformer
        model card."""
        from ..hub.model_card import push_model_to_hub

        return push_model_to_hub(self, repo_id, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, allow_pickle: bool = False, **kwargs):
        """`PreTrainedModel.from_pretrained` with `use_safetensors=True` unless `allow_pickle=True`: unpickling a
        `.bin` checkpoint can run arbitrary code (with the opt-in, transformers still uses
        `torch.load(weights_only=True)`). A checkpoint with pickled weights only is refused with an `OSError` that
        says so.

        A checkpoint of another model type (a BERT or BART folder) raises a `ValueError` that names the converter:
        its weights have other names (and BERT's q/k/v are separate), so transformers would load a mostly random
        model with only warnings."""
        if not isinstance(kwargs.get("config"), PreTrainedConfig):
            _refuse_other_model_types(pretrained_model_name_or_path, kwargs)
        if allow_pickle:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        if kwargs.get("use_safetensors") is False:
            raise ValueError("`use_safetensors=False` loads pickled weights; pass `allow_pickle=True` to opt in.")
        kwargs["use_safetensors"] = True
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except OSError as err:
            # transformers' message depends on the path it took (a Hub repo first tries the safetensors conversion
            # service); what is there decides ours.
            pickled = _pickled_weights_only(pretrained_model_name_or_path, kwargs)
            if pickled is None:
                raise
            raise OSError(
                f"{pretrained_model_name_or_path} has pickled weights ({pickled}) and no model.safetensors. Seedformer "
                "does not unpickle by default: pickle can execute code. Convert the weights to safetensors, or pass "
                "`allow_pickle=True` if you trust the source."
            ) from err

    def _pool(self, outputs, attention_mask) -> torch.Tensor:
        """The classification heads' (B, hidden) summary, by `config.classifier_pooling`: BERT's pooler output on the
        first real token ("cls"), or BERT's pooler on the mean of the real tokens' final states ("mean")."""
        if self.config.classifier_pooling == "cls":
            return outputs.pooler_output
        states = outputs.last_hidden_state
        if attention_mask is None or attention_mask.dim() != 2:
            mean = states.mean(dim=1)
        else:
            weights = attention_mask.to(states.dtype).unsqueeze(-1)
            mean = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        return self.seedformer.pooler(mean)

    def _encode(
        self,
        input_ids,
        attention_mask,
        token_type_ids,
        position_ids,
        inputs_embeds,
        prediction_mask: torch.BoolTensor | None = None,
        unpadded_execution: str | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SeedformerModelOutput:
        """Run the shared backbone with a `ModelOutput` whatever the caller asked for (heads build their own)."""
        return self.seedformer(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            prediction_mask=prediction_mask,
            unpadded_execution=unpadded_execution,
            return_dict=True,
            **kwargs,
        )


# model_type -> (function, script) that turn such a checkpoint into a Seedformer one with identical numbers.
CONVERTERS = {
    "bert": ("seedformer.conversion.convert_bert_checkpoint", "scripts/convert_bert_checkpoint.py"),
    "bart": ("seedformer.conversion.convert_bart_checkpoint", "scripts/convert_bart_checkpoint.py"),
}


def _pickled_weights_only(pretrained_model_name_or_path, kwargs: dict) -> str | None:
    """The pickled weights file of a checkpoint that has no safetensors weights, else None (also when unknown)."""
    variant, subfolder = kwargs.get("variant"), kwargs.get("subfolder") or ""

    def named(
        name: str,
    ) -> str:  # transformers' naming: model.safetensors.index.json -> model.safetensors.index.fp16.json
        parts = name.split(".")
        return "/".join(filter(None, [subfolder, ".".join(parts[:-1] + [variant] + parts[-1:]) if variant else name]))

    def exists(name: str) -> bool:
        if os.path.isdir(pretrained_model_name_or_path):
            return os.path.isfile(os.path.join(pretrained_model_name_or_path, name))
        from huggingface_hub import file_exists

        return file_exists(
            str(pretrained_model_name_or_path), name, revision=kwargs.get("revision"), token=kwargs.get("token")
        )

    try:
        if any(exists(named(n)) for n in ("model.safetensors", "model.safetensors.index.json")):
            return None  # safetensors weights are there: transformers' own error (a missing shard, ...) stands
        return next(
            (named(n) for n in ("pytorch_model.bin", "pytorch_model.bin.index.json") if exists(named(n))), None
        )
    except Exception:  # offline, no such repo, no access: keep transformers' error
        return None


def _refuse_other_model_types(pretrained_model_name_or_path, kwargs: dict) -> None:
    """Raise when the checkpoint's config.json names another `model_type` (transformers only warns)."""
    hub_kwargs = {
        name: kwargs[name]
        for name in ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies")
        if name in kwargs
    }
    try:
        config_dict, _ = SeedformerConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
    except (OSError, ValueError):
        return  # no readable config: from_pretrained itself reports that
    model_type = config_dict.get("model_type")
    if model_type in (None, SeedformerConfig.model_type):
        return
    message = (
        f"{pretrained_model_name_or_path} holds a `{model_type}` checkpoint, not a Seedformer one: its weights would "
        "not load into Seedformer's parameters (the model would be mostly random)."
    )
    if model_type in CONVERTERS:
        function, script = CONVERTERS[model_type]
        message += (
            f" Convert it first, with identical numbers: `python {script} {pretrained_model_name_or_path} <out_dir>` "
            f"or `{function}(src, dst)`, then load <out_dir>."
        )
    else:
        message += f" Seedformer converts BERT and BART checkpoints only ({', '.join(CONVERTERS)})."
    raise ValueError(message)


class SeedformerPooler(nn.Module):
    """BERT's pooler: dense + tanh on the first ([CLS]) token's final state. (B, hidden) -> (B, hidden)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, first_token_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(first_token_states))


# `unpadded_execution="auto"` packs a batch only when at least this fraction of its positions is padding: below it,
# the packing (gather, scatter, one attention call per run of equal lengths) costs about what it saves (see the
# README's benchmark section).
MIN_PADDING_TO_UNPAD = 0.1


def should_unpad(mode: str, seqlens: list[int], seq_len: int, stray_predictions: int, has_predictions: bool) -> bool:
    """The data-dependent half of the unpadding decision, from host values.

    "always" packs; "auto" packs when >= `MIN_PADDING_TO_UNPAD` of the batch is padding, or whenever a
    `prediction_mask` lets the last layer skip most tokens. A `prediction_mask` that selects padded positions
    (`stray_predictions` > 0) keeps the padded path: those positions are not among the packed tokens."""
    if stray_predictions:
        return False
    if mode == "always" or has_predictions:
        return True
    padding_fraction = 1.0 - sum(seqlens) / (len(seqlens) * seq_len)
    return padding_fraction >= MIN_PADDING_TO_UNPAD


@dataclass(frozen=True)
class ExecutionPlan:
    """How one encoder forward runs; decided once, by `SeedformerModel._plan_execution`, before any layer runs.

    packed: run the embeddings, layers and final norm on the packed real tokens, (1, T, hidden), instead of the
        padded (B, L, hidden) batch (unpadded execution; see `padding.py`). None: the padded path.
    last_layer_rows: with `packed` and a `prediction_mask`: the only tokens the last layer computes an output for
        (the predictions, plus each row's first token when there is a pooler). None: every token.
    first_index: (B,) each row's first real position (where a left-padded row starts), None without a 2-D mask.
    num_predictions: how many positions `prediction_mask` selects (a host int), None without one.
    """

    packed: PackedSequences | None = None
    last_layer_rows: QuerySubset | None = None
    first_index: torch.Tensor | None = None
    num_predictions: int | None = None


@dataclass
class SeedformerModelOutput(BaseModelOutputWithPoolingAndCrossAttentions):
    """`BaseModelOutputWithPoolingAndCrossAttentions` plus the states a sparse MLM head reads.

    last_hidden_state: (B, L, hidden), always.
    prediction_hidden_state: (N, hidden), the final states at the N positions of the `prediction_mask` passed to
        `SeedformerModel.forward`, in row-major order; None without one.
    """

    prediction_hidden_state: torch.FloatTensor | None = None


class SeedformerModel(SeedformerPreTrainedModel):
    """The encoder backbone: embeddings, a stack of `SeedformerEncoderLayer`s, a final norm (pre-norm only), optional pooler."""

    def __init__(self, config: SeedformerConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = SeedformerEmbeddings(config)
        self.rotary_emb = SeedformerRotaryEmbedding(config) if config.position_embedding_type == "rope" else None
        self.layers = nn.ModuleList(
            [SeedformerEncoderLayer(config, layer_idx=i) for i in range(config.num_hidden_layers)]
        )
        # Pre-norm leaves the residual stream un-normalised after the last layer.
        self.final_norm = make_norm(config) if config.norm_position == "pre" else None
        self.pooler = SeedformerPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        prediction_mask: torch.BoolTensor | None = None,
        unpadded_execution: Literal["auto", "always", "never"] | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SeedformerModelOutput:
        """input_ids / attention_mask / token_type_ids (B, L) -> last_hidden_state (B, L, hidden), pooler_output (B, hidden).

        Padding side does not matter: a left-padded row's learned / sinusoidal positions count from its first real
        token, and the pooler reads each row's first real token (its [CLS]), so every row gets the outputs it gets
        alone (BERT instead counts positions from, and pools, position 0, a padding token in left-padded rows).
        Right-padded and unpadded batches are unchanged.

        prediction_mask (B, L) bool: the positions a sparse MLM head reads. Their final states come back as
            `prediction_hidden_state` (N, hidden), row-major; N may be 0. On the unpadded path the last layer then
            computes outputs for these positions only (plus each row's first token for the pooler), against keys and
            values of every token, and `last_hidden_state` holds 0 at every other position. On the padded path
            `last_hidden_state` is complete.
        unpadded_execution: overrides `config.unpadded_execution` for this call ("never": the padded path).

        With unpadded execution (see `_plan_execution`), padding is dropped right here: embeddings, every layer and
        the final norm run on the (1, T, hidden) packed real tokens, and the outputs are padded back once (zeros at
        padding, where either path's values are meaningless).
        """
        batch_size, seq_len = check_input_shapes(
            self.config, input_ids, inputs_embeds, attention_mask, token_type_ids, position_ids
        )
        device = input_ids.device if input_ids is not None else inputs_embeds.device
        if prediction_mask is not None:
            if tuple(prediction_mask.shape) != (batch_size, seq_len):
                raise ValueError(
                    f"`prediction_mask` has shape {tuple(prediction_mask.shape)} but the inputs have shape {(batch_size, seq_len)}."
                )
            prediction_mask = prediction_mask.bool()
            if attention_mask is None:
                attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long, device=device)
        # The encoder has no cache; merge_with_config_defaults still fills `use_cache` from the config, and passing it
        # on makes gradient checkpointing warn "Caching is incompatible" on every layer.
        kwargs.pop("use_cache", None)
        plan = self._plan_execution(
            input_ids, token_type_ids, position_ids, attention_mask, prediction_mask, unpadded_execution, kwargs
        )

        if position_ids is None:
            position_ids = torch.arange(seq_len, device=device).unsqueeze(0)
            # Learned / sinusoidal positions of a left-padded row count from its first real token (rotary positions
            # are relative: a shift changes nothing). Right-padded rows keep exactly 0..L-1.
            if plan.first_index is not None and self.config.position_embedding_type != "rope":
                position_ids = (position_ids - plan.first_index[:, None]).clamp(min=0)
        if plan.packed is not None:
            input_ids, token_type_ids, position_ids, inputs_embeds = (
                unpad(t, plan.packed) for t in (input_ids, token_type_ids, position_ids, inputs_embeds)
            )
        hidden_states = self.embeddings(input_ids, position_ids, token_type_ids, inputs_embeds)
        if plan.packed is None:
            attention_mask = create_bidirectional_mask(
                config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask
            )
        else:
            attention_mask = None  # the sequence boundaries in `plan.packed` replace the mask
        # Built once per forward and shared by every layer (as is the mask).
        position_embeddings = self.rotary_emb(hidden_states, position_ids) if self.rotary_emb is not None else None

        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            hidden_states = layer(
                hidden_states,
                attention_mask,
                position_embeddings,
                packed=plan.packed,
                query_subset=plan.last_layer_rows if index == last else None,
                **kwargs,
            )
        if self.final_norm is not None:
            hidden_states = self.final_norm(hidden_states)
        return self._assemble_outputs(hidden_states, plan, prediction_mask, batch_size, seq_len)

    def _may_unpad(self, attention_mask: torch.Tensor | None, mode: str, kwargs: dict) -> bool:
        """The static half of the unpadding decision (Python state only: no device sync).

        Never for: mode "never"; no or a 4-D mask; `output_attentions` / `output_hidden_states` (both are defined per
        padded position); `torch.compile` tracing (the packing is data-dependent: compiled graphs keep the padded
        path); `flex_attention` (it would recompile per sequence length; its block mask already skips padded blocks).
        """
        if mode == "never":
            return False
        if attention_mask is None or attention_mask.dim() != 2 or torch.compiler.is_compiling():
            return False
        if self.config._attn_implementation == "flex_attention":
            return False
        return not any(
            kwargs.get(name, getattr(self.config, name, False))
            for name in ("output_attentions", "output_hidden_states")
        )

    def _plan_execution(
        self,
        input_ids: torch.Tensor | None,
        token_type_ids: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        prediction_mask: torch.BoolTensor | None,
        unpadded_execution: str | None,
        kwargs: dict,
    ) -> ExecutionPlan:
        """The one place that decides how this forward runs: padded or packed (`config.unpadded_execution`, or the
        `unpadded_execution` argument), and on the packed path which tokens the last layer computes.

        It also runs the input value checks: the token counts the decision needs travel to the host together with
        the checks' min/max, so the whole forward costs one device sync.
        """
        mode = unpadded_execution if unpadded_execution is not None else self.config.unpadded_execution
        if mode not in UNPADDED_EXECUTION:
            raise ValueError(f"`unpadded_execution` must be one of {list(UNPADDED_EXECUTION)}, got {mode!r}.")
        first_index = None
        if attention_mask is not None and attention_mask.dim() == 2:
            first_index = attention_mask.ne(0).int().argmax(dim=1)  # the first maximum: the first real token
        may_unpad = self._may_unpad(attention_mask, mode, kwargs)
        fetch, needed = [], None
        if may_unpad:
            real = attention_mask.bool()
            fetch.append(real.sum(1))  # (B,) sequence lengths
            if prediction_mask is not None:
                fetch.append((prediction_mask & ~real).sum())  # predictions at padded positions
                needed = prediction_mask
                if self.pooler is not None:  # the last layer also computes each row's first real token
                    needed = needed.clone()
                    needed[torch.arange(needed.shape[0], device=needed.device), first_index] = True
                fetch.append((needed & real).sum(1))  # (B,) rows the last layer computes per sequence
        if prediction_mask is not None:
            fetch.append(prediction_mask.sum())
        fetched = check_input_values(self.config, input_ids, token_type_ids, position_ids, fetch=tuple(fetch))
        num_predictions = fetched[-1][0] if prediction_mask is not None else None
        if not may_unpad:
            return ExecutionPlan(first_index=first_index, num_predictions=num_predictions)
        stray = fetched[1][0] if prediction_mask is not None else 0
        if not should_unpad(mode, fetched[0], attention_mask.shape[1], stray, prediction_mask is not None):
            return ExecutionPlan(first_index=first_index, num_predictions=num_predictions)
        packed = PackedSequences.from_attention_mask(attention_mask, seqlens=fetched[0])
        rows = packed.select(needed, seqlens=fetched[2]) if needed is not None else None
        return ExecutionPlan(packed, rows, first_index, num_predictions)

    def _use_unpadded(
        self,
        attention_mask: torch.Tensor | None,
        prediction_mask: torch.Tensor | None = None,
        kwargs: dict | None = None,
        unpadded_execution: str | None = None,
    ) -> bool:
        """Whether `forward` runs these inputs packed (for tools such as the benchmark; `forward` itself fetches the
        counts together with its input checks, this costs a sync of its own)."""
        mode = unpadded_execution if unpadded_execution is not None else self.config.unpadded_execution
        if not self._may_unpad(attention_mask, mode, kwargs or {}):
            return False
        real = attention_mask.bool()
        stray = 0 if prediction_mask is None else int((prediction_mask.bool() & ~real).sum())
        return should_unpad(mode, real.sum(1).tolist(), attention_mask.shape[1], stray, prediction_mask is not None)

    def _assemble_outputs(
        self,
        hidden_states: torch.Tensor,
        plan: ExecutionPlan,
        prediction_mask: torch.BoolTensor | None,
        batch_size: int,
        seq_len: int,
    ) -> SeedformerModelOutput:
        """The final states, (B, L, hidden) padded or (1, T or N', hidden) packed, -> the output contract:
        last_hidden_state (B, L, hidden), pooler_output (B, hidden), prediction_hidden_state (N, hidden)."""
        packed, rows = plan.packed, plan.last_layer_rows
        predictions = None
        if rows is not None:
            # The last layer computed only `rows` (row-major, per packed sequence) of the packed tokens.
            computed = hidden_states[0]  # (N', hidden)
            token_positions = packed.indices.index_select(0, rows.index)  # their flat (B*L) positions
            last_hidden_state = computed.new_zeros(batch_size * seq_len, computed.shape[-1])
            last_hidden_state = last_hidden_state.index_copy(0, token_positions, computed).view(
                batch_size, seq_len, -1
            )
            # Which computed rows are predictions (the others are first tokens for the pooler only).
            is_prediction = prediction_mask.reshape(-1).index_select(0, token_positions)
            predictions = computed.index_select(
                0, torch.nonzero_static(is_prediction, size=plan.num_predictions).reshape(-1)
            )
        else:
            last_hidden_state = pad(hidden_states, packed) if packed is not None else hidden_states
            if prediction_mask is not None:
                flat = torch.nonzero_static(prediction_mask.reshape(-1), size=plan.num_predictions).reshape(-1)
                predictions = last_hidden_state.reshape(batch_size * seq_len, -1).index_select(0, flat)
        pooled = None
        if self.pooler is not None:
            if plan.first_index is None:
                first_token_states = last_hidden_state[:, 0]
            else:
                first_token_states = last_hidden_state[
                    torch.arange(batch_size, device=last_hidden_state.device), plan.first_index
                ]
            pooled = self.pooler(first_token_states)
        return SeedformerModelOutput(
            last_hidden_state=last_hidden_state, pooler_output=pooled, prediction_hidden_state=predictions
        )


# ----------------------------------------------------------------------------------------------------------------
# Heads
#
# Losses, one way: every head calls transformers' loss functions with its `**kwargs`, so the Trainer's
# `num_items_in_batch` (sum the loss, divide by the item count of all accumulated micro-batches) is honoured:
# `self.loss_function` where transformers maps the head's name (ForMaskedLM, ForSequenceClassification,
# ForTokenClassification, ForQuestionAnswering, ForConditionalGeneration), else `fixed_cross_entropy`, the function
# those are built on. A head whose loss has no single item count declares `accepts_loss_kwargs = False`; the Trainer
# then divides by the accumulation steps itself.
# ----------------------------------------------------------------------------------------------------------------
class SeedformerMaskedLMHead(nn.Module):
    """transform (dense, activation, norm) then the vocabulary projection (tied to the word embeddings)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.mlp_bias)
        self.act = ACT2FN[config.base_act]
        self.norm = make_norm(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., vocab)."""
        return self.decoder(self.norm(self.act(self.dense(hidden_states))))


def check_mlm_labels(
    labels: torch.Tensor | None, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None
) -> None:
    """Masked-LM labels must be (B, L) like the inputs; a wrong shape would otherwise fail deep in the loss."""
    if labels is None:
        return
    source = input_ids if input_ids is not None else inputs_embeds
    expected = tuple(source.shape[:2]) if source is not None else None
    if expected is not None and tuple(labels.shape) != expected:
        raise ValueError(
            f"`labels` must have the inputs' shape (batch, seq_len) = {expected}, with -100 at positions without a "
            f"target; got {tuple(labels.shape)}."
        )


def sparse_prediction_mask(config, labels: torch.Tensor | None) -> torch.BoolTensor | None:
    """The labelled positions (B, L) when the MLM head runs only there (`config.sparse_prediction` and labels)."""
    return labels != -100 if config.sparse_prediction and labels is not None else None


def masked_lm_labels(
    labels: torch.Tensor | None, prediction_mask: torch.Tensor | None, num_predictions: int = -1
) -> torch.Tensor | None:
    """Labels aligned with the logits: (N,) at the predicted positions in the sparse case, else unchanged (B, L).
    `num_predictions` (N, known from the logits' shape) saves the device sync of a boolean-mask index."""
    if prediction_mask is None:
        return labels
    if num_predictions < 0:
        return labels[prediction_mask]
    flat = torch.nonzero_static(prediction_mask.reshape(-1), size=num_predictions).reshape(-1)
    return labels.reshape(-1).index_select(0, flat)


class _MaskedLMMixin:
    """What the heads that own a `SeedformerMaskedLMHead` (tied to the input embeddings) share: the output-embedding
    accessors and the masked prediction itself."""

    def get_output_embeddings(self):
        return self.mlm_head.decoder

    def set_output_embeddings(self, new_embeddings):
        self.mlm_head.decoder = new_embeddings

    def _predict_masked(
        self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, labels, **kwargs
    ):
        """Encode, then run the MLM head on every position, or with `config.sparse_prediction` and labels only on the
        labelled ones. Returns (encoder outputs, logits (B, L, vocab) or (N, vocab), labels aligned with the logits
        or None)."""
        check_mlm_labels(labels, input_ids, inputs_embeds)
        prediction_mask = sparse_prediction_mask(self.config, labels)
        outputs = self._encode(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            prediction_mask=prediction_mask,
            **kwargs,
        )
        hidden = outputs.last_hidden_state if prediction_mask is None else outputs.prediction_hidden_state
        logits = self.mlm_head(hidden)
        targets = None if labels is None else masked_lm_labels(labels, prediction_mask, logits.shape[0])
        return outputs, logits, targets


class SeedformerForMaskedLM(_MaskedLMMixin, SeedformerPreTrainedModel):
    _tied_weights_keys = {"mlm_head.decoder.weight": "seedformer.embeddings.word_embeddings.weight"}

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=False)
        self.mlm_head = SeedformerMaskedLMHead(config)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> MaskedLMOutput:
        """labels (B, L) with -100 at unmasked positions. Loss honours `num_items_in_batch` (gradient accumulation).

        logits (B, L, vocab), or (N, vocab) at the labelled positions with `config.sparse_prediction`.

        A batch without any labelled position gives a NaN loss on both paths, as BERT's (a mean over zero tokens),
        and all-zero gradients; under the Trainer, which passes `num_items_in_batch`, such a batch adds 0 to a
        summed loss. The sparse path then has N = 0 rows and runs no vocabulary projection.
        """
        outputs, logits, targets = self._predict_masked(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, labels, **kwargs
        )
        loss = None
        if labels is not None:
            loss = self.loss_function(logits, targets, vocab_size=self.config.vocab_size, **kwargs)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


@dataclass
class SeedformerForPreTrainingOutput(ModelOutput):
    """Same fields as `BertForPreTrainingOutput`.

    loss: MLM + NSP loss when both label kinds are given (or whichever is given).
    prediction_logits: (B, L, vocab), or (N, vocab) at labelled positions with `sparse_prediction`.
    seq_relationship_logits: (B, 2); index 0 = B follows A, 1 = B is random.
    """

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class SeedformerForPreTraining(_MaskedLMMixin, SeedformerPreTrainedModel):
    """Masked LM + next-sentence prediction, as BERT is pretrained."""

    _tied_weights_keys = {"mlm_head.decoder.weight": "seedformer.embeddings.word_embeddings.weight"}
    # Two normalisers (masked tokens for MLM, pairs for NSP) but one `num_items_in_batch` (the Trainer counts the MLM
    # labels): keep BERT's sum of two batch means and let the Trainer divide by the accumulation steps itself.
    accepts_loss_kwargs = False

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=True)
        self.mlm_head = SeedformerMaskedLMHead(config)
        self.nsp_head = nn.Linear(config.hidden_size, 2)
        # transformers maps no loss to "ForPreTraining": `self.loss_function` is the MLM half.
        self.loss_type = "ForMaskedLM"
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.LongTensor | None = None,
        next_sentence_label: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SeedformerForPreTrainingOutput:
        """labels (B, L) MLM targets with -100 elsewhere; next_sentence_label (B,) with 0 = is next, 1 = random.

        No labelled MLM position in the batch: the MLM part of the loss is NaN, as in `BertForPreTraining`."""
        outputs, prediction_logits, targets = self._predict_masked(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, labels, **kwargs
        )
        nsp_logits = self.nsp_head(outputs.pooler_output)
        loss = None
        if labels is not None:
            loss = self.loss_function(prediction_logits, targets, vocab_size=self.config.vocab_size)
        if next_sentence_label is not None:
            nsp_loss = fixed_cross_entropy(nsp_logits.float(), next_sentence_label.reshape(-1))
            loss = nsp_loss if loss is None else loss + nsp_loss
        return SeedformerForPreTrainingOutput(
            loss=loss,
            prediction_logits=prediction_logits,
            seq_relationship_logits=nsp_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class SeedformerForNextSentencePrediction(SeedformerPreTrainedModel):
    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=True)
        self.nsp_head = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> NextSentencePredictorOutput:
        """labels (B,): 0 = B follows A, 1 = B is random. logits (B, 2)."""
        outputs = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        logits = self.nsp_head(outputs.pooler_output)
        loss = fixed_cross_entropy(logits.float(), labels.reshape(-1), **kwargs) if labels is not None else None
        return NextSentencePredictorOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class SeedformerForSequenceClassification(SeedformerPreTrainedModel):
    """Pooled [CLS] (or mean, `config.classifier_pooling`) -> dropout -> linear. Regression / single-label / multi-label by `config.problem_type`, as BERT."""

    # transformers' regression and multi-label losses are batch means that ignore `num_items_in_batch`.
    accepts_loss_kwargs = False

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.seedformer = SeedformerModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> SequenceClassifierOutput:
        """labels (B,) class ids or floats (regression), or (B, num_labels) multi-hot. logits (B, num_labels)."""
        outputs = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(self._pool(outputs, attention_mask)))
        loss = self.loss_function(labels, logits, self.config, **kwargs) if labels is not None else None
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class SeedformerForTokenClassification(SeedformerPreTrainedModel):
    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.seedformer = SeedformerModel(config, add_pooling_layer=False)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> TokenClassifierOutput:
        """labels (B, L) with -100 on ignored positions. logits (B, L, num_labels). Loss honours `num_items_in_batch`."""
        outputs = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = self.loss_function(logits, labels, self.config, **kwargs) if labels is not None else None
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class SeedformerForQuestionAnswering(SeedformerPreTrainedModel):
    """Extractive QA: a start and an end logit per token."""

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        start_positions: torch.LongTensor | None = None,
        end_positions: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> QuestionAnsweringModelOutput:
        """start/end_positions (B,) token indices. start_logits, end_logits (B, L).

        Always the padded path: the start/end softmax spans every position, padding included, as BERT's does, so
        the states at padded positions must be the ones BERT computes (the packed path leaves them 0)."""
        outputs = self._encode(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            unpadded_execution="never",
            **kwargs,
        )
        start_logits, end_logits = self.qa_outputs(outputs.last_hidden_state).unbind(dim=-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(
                start_logits.float(), end_logits.float(), start_positions, end_positions, **kwargs
            )
        return QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits.contiguous(),
            end_logits=end_logits.contiguous(),
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class SeedformerForMultipleChoice(SeedformerPreTrainedModel):
    """Scores each (context, choice) pair from its pooled [CLS]; softmax over the choices."""

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=True)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.LongTensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> MultipleChoiceModelOutput:
        """inputs (B, C, L) (embeds (B, C, L, hidden)); labels (B,) the right choice. logits (B, C)."""
        source = input_ids if input_ids is not None else inputs_embeds
        if source is None or source.dim() < 3:
            raise ValueError("Multiple choice inputs must have shape (batch, num_choices, seq_len).")
        num_choices = source.shape[1]

        def flat(t):
            return t.reshape(-1, *t.shape[2:]) if t is not None else None

        outputs = self._encode(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            flat(inputs_embeds),
            **kwargs,
        )
        logits = self.classifier(self.dropout(self._pool(outputs, flat(attention_mask)))).view(-1, num_choices)
        loss = fixed_cross_entropy(logits.float(), labels.reshape(-1), **kwargs) if labels is not None else None
        return MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class SeedformerForReplacedTokenDetection(SeedformerPreTrainedModel):
    """ELECTRA's discriminator: for every token, the logit that it was replaced (by a small generator's sample).

    The backbone sits under `seedformer` like every other head, so a checkpoint of this class loads into
    `AutoModelForSequenceClassification` etc. with the encoder weights intact (the detection head is dropped).
    """

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.seedformer = SeedformerModel(config, add_pooling_layer=False)
        # ELECTRA's discriminator head: dense -> activation -> one logit per token.
        self.detection_dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.mlp_bias)
        self.detection_act = ACT2FN[config.base_act]
        self.detection_out = nn.Linear(config.hidden_size, 1)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels: torch.Tensor | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> TokenClassifierOutput:
        """labels (B, L): 1 = replaced, 0 = original, -100 = ignored (padding). logits (B, L).

        The loss is the sigmoid cross-entropy averaged over the labelled tokens (those of the attention mask, when
        labels are -100 only at padding), as in ELECTRA; summed and divided by `num_items_in_batch` when the Trainer
        passes it, as `fixed_cross_entropy` does.
        """
        outputs = self._encode(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, **kwargs)
        logits = self.detection_out(self.detection_act(self.detection_dense(outputs.last_hidden_state))).squeeze(-1)
        loss = None
        if labels is not None:
            keep = labels != -100
            summed = F.binary_cross_entropy_with_logits(
                logits.float(), labels.clamp(min=0).to(torch.float32), weight=keep.to(torch.float32), reduction="sum"
            )
            num_items_in_batch = kwargs.get("num_items_in_batch")
            loss = summed / (keep.sum() if num_items_in_batch is None else num_items_in_batch)
        return TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


def _classifier_dropout(config) -> float:
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


__all__ = [
    "SeedformerPreTrainedModel",
    "SeedformerModel",
    "SeedformerForMaskedLM",
    "SeedformerForPreTraining",
    "SeedformerForNextSentencePrediction",
    "SeedformerForSequenceClassification",
    "SeedformerForTokenClassification",
    "SeedformerForQuestionAnswering",
    "SeedformerForMultipleChoice",
    "SeedformerForPreTrainingOutput",
    "SeedformerForReplacedTokenDetection",
]
