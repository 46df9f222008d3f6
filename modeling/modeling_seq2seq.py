"""Sequence-to-sequence Seedformer: the encoder (`SeedformerModel`, unchanged) plus `SeedformerDecoder`.

Parameter layout (shared by both classes, so checkpoints move freely between them):

    seedformer.*   the encoder, exactly as in `SeedformerModel` / `SeedformerForMaskedLM`, so a masked-LM
                   checkpoint warm-starts the encoder of a seq2seq model
                   (`AutoModelForSeq2SeqLM.from_pretrained(mlm_dir, is_encoder_decoder=True, decoder_start_token_id=...)`)
    decoder.*      the decoder; its word embeddings are tied to the encoder's
    lm_head.*      (ForConditionalGeneration) vocabulary projection tied to the same embeddings, plus BART's
                   `final_logits_bias` buffer
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import GenerationMixin
from transformers import initialization as init
from transformers.cache_utils import EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple

from ..configuration.configuration_seedformer import SeedformerConfig
from .decoder import CACHE_FIELD, SeedformerDecoder, resolve_cache
from .modeling_seedformer import SeedformerModel, SeedformerPreTrainedModel


def shift_tokens_right(
    labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None
) -> torch.Tensor:
    """Teacher-forcing decoder inputs: labels (B, L) -> (B, L) = [start, labels[:, :-1]], with -100 replaced by pad."""
    if decoder_start_token_id is None:
        raise ValueError(
            "`config.decoder_start_token_id` is not set, so decoder inputs cannot be built from the labels. Set it to "
            "the token the decoder starts from (BART: eos, T5: pad, a BERT vocabulary: [CLS])."
        )
    if pad_token_id is None:
        raise ValueError(
            "`config.pad_token_id` must be set to replace the -100 label positions in the decoder inputs."
        )
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1].clone()
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


def decoder_inputs_from_input_ids(config: SeedformerConfig, input_ids: torch.Tensor | None) -> torch.Tensor:
    """Neither decoder inputs nor labels given: the decoder reads `input_ids` shifted right, as BART's forward does
    (so `model(input_ids=...)` and `model(**model.dummy_inputs)` work)."""
    if input_ids is None or config.decoder_start_token_id is None:
        raise ValueError(
            "Pass `labels` (training) or `decoder_input_ids` (the target prefix to decode from); with `input_ids` "
            "alone, the decoder reads them shifted right behind `config.decoder_start_token_id`, which must be set."
        )
    return shift_tokens_right(input_ids, config.pad_token_id, config.decoder_start_token_id)


def _require_encoder_decoder(config: SeedformerConfig, cls_name: str) -> None:
    if not config.is_encoder_decoder:
        raise ValueError(
            f"{cls_name} needs an encoder-decoder config, but this one is encoder-only (`is_encoder_decoder=False`). "
            "To warm-start a seq2seq model from an encoder checkpoint (e.g. a masked LM), pass "
            "`is_encoder_decoder=True` and `decoder_start_token_id=...` to `from_pretrained`; the decoder is then "
            "initialised randomly. For encoder-only use, load it with AutoModel / AutoModelForMaskedLM instead."
        )


class _EncoderDecoderMixin:
    """Encoder + decoder plumbing shared by the bare model and the LM-head model (same parameter layout)."""

    def _build_encoder_decoder(self, config: SeedformerConfig) -> None:
        self.seedformer = SeedformerModel(config, add_pooling_layer=False)
        self.decoder = SeedformerDecoder(config)

    def get_input_embeddings(self):
        return self.seedformer.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.seedformer.embeddings.word_embeddings = value
        self.decoder.embeddings.word_embeddings = value

    def get_encoder(self, modality: str | None = None):
        return self.seedformer

    def get_decoder(self):
        return self.decoder

    def _run_seq2seq(
        self,
        input_ids,
        attention_mask,
        token_type_ids,
        position_ids,
        inputs_embeds,
        decoder_input_ids,
        decoder_attention_mask,
        decoder_inputs_embeds,
        encoder_outputs,
        cache,
        use_cache,
        **kwargs: Unpack[TransformersKwargs],
    ) -> Seq2SeqModelOutput:
        if encoder_outputs is None:
            encoder_outputs = self.seedformer(
                input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                position_ids=position_ids,
                inputs_embeds=inputs_embeds,
                return_dict=True,
                **kwargs,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput) and not hasattr(encoder_outputs, "last_hidden_state"):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        decoder_outputs = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            **{CACHE_FIELD: getattr(decoder_outputs, CACHE_FIELD)},
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


class SeedformerSeq2SeqModel(_EncoderDecoderMixin, SeedformerPreTrainedModel):
    """The bare encoder-decoder: returns the decoder's last hidden state (and the encoder's) without an LM head."""

    _tied_weights_keys = {"decoder.embeddings.word_embeddings.weight": "seedformer.embeddings.word_embeddings.weight"}

    def __init__(self, config: SeedformerConfig):
        _require_encoder_decoder(config, type(self).__name__)
        super().__init__(config)
        self._build_encoder_decoder(config)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> Seq2SeqModelOutput:
        """input_ids / attention_mask (B, Ls) source; decoder_input_ids (B, Lt) -> last_hidden_state (B, Lt, hidden)."""
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = decoder_inputs_from_input_ids(self.config, input_ids)
        return self._run_seq2seq(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            decoder_input_ids,
            decoder_attention_mask,
            decoder_inputs_embeds,
            encoder_outputs,
            resolve_cache(cache, kwargs),
            use_cache,
            **kwargs,
        )


class SeedformerForConditionalGeneration(_EncoderDecoderMixin, SeedformerPreTrainedModel, GenerationMixin):
    """Encoder-decoder with a tied LM head: translation, summarisation, denoising; full `generate()` support.

    Training: pass `labels` (B, Lt) with -100 on ignored positions; decoder inputs are the labels shifted right
    behind `config.decoder_start_token_id`. The loss is a plain token-level cross-entropy (no extra shift), summed
    and divided by `num_items_in_batch` when the Trainer passes it (correct under gradient accumulation).
    """

    _tied_weights_keys = {
        "decoder.embeddings.word_embeddings.weight": "seedformer.embeddings.word_embeddings.weight",
        "lm_head.weight": "seedformer.embeddings.word_embeddings.weight",
    }
    _keys_to_ignore_on_load_missing = ["final_logits_bias"]

    def __init__(self, config: SeedformerConfig):
        _require_encoder_decoder(config, type(self).__name__)
        super().__init__(config)
        self._build_encoder_decoder(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        # BART's fixed per-token logit offset (a buffer, not trained); zeros unless imported from BART.
        self.register_buffer("final_logits_bias", torch.zeros(1, config.vocab_size))
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, SeedformerForConditionalGeneration):
            init.zeros_(module.final_logits_bias)

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        old = self.final_logits_bias
        new_size = embeddings.weight.shape[0]
        if new_size <= old.shape[-1]:
            bias = old[:, :new_size]
        else:
            bias = torch.cat([old, old.new_zeros(1, new_size - old.shape[-1])], dim=-1)
        self.register_buffer("final_logits_bias", bias.contiguous())
        return embeddings

    def adjust_generation_fn(self, *args, **kwargs):
        super().adjust_generation_fn(*args, **kwargs)
        # Without a generation_config.json (e.g. warm-starting from a masked-LM folder), transformers rebuilds the
        # generation config from the checkpoint's config.json and drops `from_pretrained(..., decoder_start_token_id=)`
        # overrides; take the special ids from the loaded model config where the generation config has none.
        for name in ("decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id"):
            if getattr(self.generation_config, name, None) is None and getattr(self.config, name, None) is not None:
                setattr(self.generation_config, name, getattr(self.config, name))

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Used by `DataCollatorForSeq2Seq(model=...)`: labels (B, L) -> decoder_input_ids (B, L)."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> Seq2SeqLMOutput:
        """Source (B, Ls), target prefix or labels (B, Lt) -> logits (B, Lt, vocab), loss when labels are given."""
        if labels is not None:
            use_cache = False  # teacher forcing over the whole target: nothing to cache
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = decoder_inputs_from_input_ids(self.config, input_ids)
        outputs = self._run_seq2seq(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            decoder_input_ids,
            decoder_attention_mask,
            decoder_inputs_embeds,
            encoder_outputs,
            resolve_cache(cache, kwargs),
            use_cache,
            **kwargs,
        )
        logits = self.lm_head(outputs.last_hidden_state) + self.final_logits_bias.to(outputs.last_hidden_state.dtype)
        loss = None
        if labels is not None:
            # transformers' ForConditionalGeneration loss is the causal-LM one; `shift_labels` hands it the labels
            # as already aligned with the logits (the decoder inputs were shifted instead), so it shifts nothing.
            loss = self.loss_function(
                logits, None, vocab_size=logits.shape[-1], shift_labels=labels.contiguous(), **kwargs
            )
        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            **{CACHE_FIELD: getattr(outputs, CACHE_FIELD)},
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )


__all__ = ["SeedformerForConditionalGeneration", "SeedformerSeq2SeqModel", "shift_tokens_right"]
