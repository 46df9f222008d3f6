"""ELECTRA replaced-token detection (Clark et al. 2020) for `scripts/pretrain.py --objective electra`.

A small masked-LM generator fills the masked positions with samples from its own softmax; the discriminator (the
encoder we keep) predicts, for every real token, whether it was replaced. Both train jointly:
`loss = generator MLM loss + 50 * discriminator loss` (the official `disc_weight`). As in the official code:

- the generator is narrower (`generator_size_divisor`: hidden size, heads and FFN width divided by it; ELECTRA-small
  uses 4, base 3) and shares the discriminator's token embeddings; since their widths differ, the generator reads
  them through a linear projection and its MLM head projects back to the embedding width before the (tied) output
  layer, which is ELECTRA's `embedding_size` factorisation;
- tokens are sampled from the generator's softmax with Gumbel-max (temperature 1), with no gradient through the
  sampling (the discriminator loss does not train the generator);
- a sampled token equal to the original counts as "original" in the discriminator's labels;
- masking is `--mlm_probability` of the tokens (ELECTRA's 15% by default; the `cpu_small` recipe, the default of a
  from-scratch run, sets 30%), 85% of them replaced by [MASK] and 15% left unchanged (no random tokens).

Only the discriminator is a normal Seedformer encoder: `export_discriminator` returns it, and the run saves it as the
output checkpoint (`AutoModelForSequenceClassification.from_pretrained(output_dir)` finetunes it). The generator is
discarded at the end (as ELECTRA does); Trainer checkpoints hold the whole joint model, so a run resumes exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.utils import ModelOutput

from ..configuration import SeedformerConfig
from ..modeling import SeedformerModel, SeedformerPreTrainedModel
from ..modeling.modeling_seedformer import SeedformerForReplacedTokenDetection
from ..modeling.norms import make_norm

DISCRIMINATOR_WEIGHT = 50.0
GENERATOR_SIZE_DIVISOR = 4
INITIAL_REPLACED_LOG_ODDS = -1.9  # log(0.13 / 0.87)


def generator_config(config: SeedformerConfig, divisor: int) -> SeedformerConfig:
    """The generator's config: the discriminator's, with hidden size, heads and FFN width divided by `divisor`."""
    if divisor < 1:
        raise ValueError(f"electra generator_size_divisor must be >= 1, got {divisor}.")
    heads = max(1, config.num_attention_heads // divisor)
    hidden = max(heads, config.hidden_size // divisor)
    hidden -= hidden % heads
    if config.position_embedding_type == "rope" and (hidden // heads) % 2:
        hidden -= heads  # rotary positions need an even head dimension
    if hidden <= 0:
        raise ValueError(f"hidden_size={config.hidden_size} is too small for a generator 1/{divisor} as wide.")
    values = config.to_dict()
    for key in ("model_type", "transformers_version", "architectures", "electra_generator_size_divisor"):
        values.pop(key, None)
    values.update(
        hidden_size=hidden,
        num_attention_heads=heads,
        intermediate_size=max(1, config.intermediate_size // divisor),
        tie_word_embeddings=False,
        sparse_prediction=config.sparse_prediction,
    )
    return SeedformerConfig(**values)


@dataclass
class ElectraPretrainingOutput(ModelOutput):
    """loss: generator MLM loss + 50 * discriminator loss. logits: the generator's MLM logits, (B, L, vocab), or
    (N, vocab) at the masked positions with `config.sparse_prediction` (so the MLM metrics apply to them).
    discriminator_logits (B, L); discriminator_labels (B, L): 1 replaced, 0 original, -100 padding."""

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    discriminator_logits: torch.FloatTensor | None = None
    discriminator_labels: torch.LongTensor | None = None
    generator_loss: torch.FloatTensor | None = None
    discriminator_loss: torch.FloatTensor | None = None


class SeedformerElectraForPreTraining(SeedformerPreTrainedModel):
    """Generator + discriminator trained jointly. `self.discriminator` is a `SeedformerForReplacedTokenDetection`."""

    accepts_loss_kwargs = False

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        divisor = getattr(config, "electra_generator_size_divisor", GENERATOR_SIZE_DIVISOR)
        self.discriminator = SeedformerForReplacedTokenDetection(config)
        gen_config = generator_config(config, divisor)
        self.generator = SeedformerModel(gen_config, add_pooling_layer=False)
        # The generator reads the shared token embeddings; its own table is never used, so drop it (no dead weights).
        self.generator.embeddings.word_embeddings = None
        width, gen_width = config.hidden_size, gen_config.hidden_size
        self.generator_in = nn.Linear(width, gen_width, bias=False) if gen_width != width else nn.Identity()
        # ELECTRA's generator head: dense to the embedding width, activation, norm, then the tied output projection.
        self.generator_dense = nn.Linear(gen_width, width, bias=config.mlp_bias)
        self.generator_act = ACT2FN[config.base_act]
        self.generator_norm = make_norm(config)
        self.generator_bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.post_init()
        # Start the detection logit at the prior log-odds of "replaced" (15% masked x 85% [MASK] x an untrained
        # generator that is almost always wrong ~ 13%; under the cpu_small recipe's 30% masking it is ~25%, log-odds
        # -1.1, and this start is still nearer to it than 0 is): from a zero bias, Adam moves it by about the learning rate per
        # step, so a short run (300 steps at 2e-3, measured) never even reaches the base rate (loss 0.59 vs 0.39).
        with torch.no_grad():
            self.discriminator.detection_out.bias.fill_(INITIAL_REPLACED_LOG_ODDS)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # The joint model is only a training-time container (Trainer checkpoints); it ships no remote code.
        return PreTrainedModel.save_pretrained(self, save_directory, *args, **kwargs)

    def get_input_embeddings(self):
        return self.discriminator.seedformer.embeddings.word_embeddings

    def _generator_logits(self, masked_ids, attention_mask, token_type_ids, prediction_mask):
        embeds = self.generator_in(self.get_input_embeddings()(masked_ids))
        hidden = self.generator(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            prediction_mask=prediction_mask,
            return_dict=True,
        )
        hidden = hidden.last_hidden_state if prediction_mask is None else hidden.prediction_hidden_state
        hidden = self.generator_norm(self.generator_act(self.generator_dense(hidden)))
        return F.linear(hidden, self.get_input_embeddings().weight, self.generator_bias)

    def forward(
        self, input_ids, attention_mask=None, token_type_ids=None, labels=None, **kwargs
    ) -> ElectraPretrainingOutput:
        """input_ids (B, L) with [MASK]s from the MLM collator; labels (B, L) the original ids at masked positions,
        -100 elsewhere. Without labels only the discriminator runs (on the inputs as given)."""
        if labels is None:
            out = self.discriminator(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return ElectraPretrainingOutput(discriminator_logits=out.logits)
        masked = labels != -100
        prediction_mask = masked if self.config.sparse_prediction else None
        gen_logits = self._generator_logits(input_ids, attention_mask, token_type_ids, prediction_mask)
        flat_logits = gen_logits if prediction_mask is not None else gen_logits[masked]
        targets = labels[masked]
        generator_loss = F.cross_entropy(flat_logits.float(), targets) if targets.numel() else gen_logits.sum() * 0.0

        with torch.no_grad():  # sampling is not differentiable: the discriminator's loss does not train the generator
            gumbel = -torch.log(-torch.log(torch.rand_like(flat_logits, dtype=torch.float32).clamp_(1e-9, 1.0)))
            sampled = (flat_logits.float() + gumbel).argmax(-1)
            corrupted = input_ids.clone()
            corrupted[masked] = sampled
            original = torch.where(masked, labels, input_ids)
            disc_labels = (corrupted != original).long()  # a sample equal to the original counts as original
            if attention_mask is not None:
                disc_labels = disc_labels.masked_fill(attention_mask == 0, -100)
        disc = self.discriminator(
            corrupted, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=disc_labels
        )
        loss = generator_loss + DISCRIMINATOR_WEIGHT * disc.loss
        return ElectraPretrainingOutput(
            loss=loss,
            logits=gen_logits,
            discriminator_logits=disc.logits,
            discriminator_labels=disc_labels,
            generator_loss=generator_loss.detach(),
            discriminator_loss=disc.loss.detach(),
        )


def export_discriminator(model: SeedformerElectraForPreTraining) -> SeedformerForReplacedTokenDetection:
    """The model a finished ELECTRA run saves: the discriminator, a normal Seedformer encoder checkpoint."""
    disc = model.discriminator
    # The config object is shared with the joint model: the training is over, so drop the generator's size from it.
    if hasattr(disc.config, "electra_generator_size_divisor"):
        del disc.config.electra_generator_size_divisor
    disc.config.architectures = [type(disc).__name__]
    return disc


def electra_model_class():
    return SeedformerElectraForPreTraining


def prepare_electra_config(config, tokenizer) -> None:
    """Keep the generator's size on the joint model's config (Trainer checkpoints rebuild it from there)."""
    if not hasattr(config, "electra_generator_size_divisor"):
        config.electra_generator_size_divisor = GENERATOR_SIZE_DIVISOR
