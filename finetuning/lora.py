"""LoRA for Seedformer through peft.

peft knows default LoRA targets only for the model types in its own table, and Seedformer is not one of them, so
`LoraConfig()` without `target_modules` raises on a Seedformer model. Rather than adding an entry to peft's table
(a private structure, and a side effect of `import seedformer`), the default is this module's
`SEEDFORMER_LORA_TARGET_MODULES`, which `apply_lora` (and so `finetune.py --use_lora`) passes to `LoraConfig`
explicitly. Stock peft code does the same:

    LoraConfig(task_type="SEQ_CLS", target_modules=SEEDFORMER_LORA_TARGET_MODULES)

peft matches a list entry against a module's full name or its last `.name` component, so the names below hit every
encoder layer (and the decoder's cross-attention, if any).
"""

from __future__ import annotations

# attention: fused q/k/v projection + output projection; cross-attention: q_proj + fused kv_proj; feed-forward:
# up (gate+up for GLU) and down projections. A tuple, so that no caller can change the default for everyone.
SEEDFORMER_LORA_TARGET_MODULES: tuple[str, ...] = ("qkv", "q_proj", "kv_proj", "out_proj", "up_proj", "down_proj")

# peft before 0.21.2 builds `PeftModelForSeq2SeqLM` by reading `_prepare_encoder_decoder_kwargs_for_generation`, a
# generation method transformers 5 no longer has: an AttributeError from inside peft. Encoder tasks work from 0.20.
SEQ2SEQ_LORA_MIN_PEFT = "0.21.2"


def check_peft_supports(peft_task_type: str | None) -> None:
    """Raise a clear error, before any training, when the installed peft cannot wrap this task's model."""
    import peft
    from packaging.version import Version

    if peft_task_type == "SEQ_2_SEQ_LM" and Version(peft.__version__) < Version(SEQ2SEQ_LORA_MIN_PEFT):
        raise ImportError(
            f"LoRA on a sequence-to-sequence model needs peft>={SEQ2SEQ_LORA_MIN_PEFT} (installed: {peft.__version__}; "
            f"older peft calls a generation method that transformers 5 removed). "
            f"Run `pip install -U 'peft>={SEQ2SEQ_LORA_MIN_PEFT}'`, or finetune without --use_lora."
        )


def apply_lora(
    model,
    peft_task_type: str | None,
    head_modules: tuple[str, ...] = (),
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.05,
    target_modules: list[str] | None = None,
):
    """Wrap `model` in a `PeftModel` with LoRA adapters; the head modules (that exist) are trained in full.

    target_modules None -> `SEEDFORMER_LORA_TARGET_MODULES` for a Seedformer model, peft's own default for the
    model types peft knows (a BERT checkpoint finetuned with `--use_lora` gets peft's `query`/`value`). The head is always named in `modules_to_save`, so a
    freshly initialised classifier is trained and saved with the adapter.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    check_peft_supports(peft_task_type)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if target_modules is None and getattr(model.config, "model_type", None) == "seedformer":
        target_modules = SEEDFORMER_LORA_TARGET_MODULES
    config = LoraConfig(
        task_type=TaskType(peft_task_type) if peft_task_type else None,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules) if target_modules is not None else None,
        modules_to_save=[m for m in head_modules if m in names] or None,
    )
    return get_peft_model(model, config)
