"""LoRA for Seedformer through peft.

peft picks default LoRA targets from a table keyed by `config.model_type`; `register_peft_target_modules` adds
Seedformer's projection names to it (called on `import seedformer`), so `LoraConfig()` without `target_modules`
works on a Seedformer model as it does on BERT. peft matches a list entry against a module's full name or its
last `.name` component, so the names below hit every encoder layer (and the decoder's cross-attention, if any).
"""

from __future__ import annotations

# attention: fused q/k/v projection + output projection; cross-attention: q_proj + fused kv_proj; feed-forward:
# up (gate+up for GLU) and down projections.
SEEDFORMER_LORA_TARGET_MODULES = ["qkv", "q_proj", "kv_proj", "out_proj", "up_proj", "down_proj"]


def register_peft_target_modules() -> bool:
    """Add Seedformer to peft's default LoRA target-module table. Returns False when peft is not installed."""
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as table
    except ImportError:
        return False
    table.setdefault("seedformer", list(SEEDFORMER_LORA_TARGET_MODULES))
    return True


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

    target_modules None -> peft's default table (Seedformer's entry is registered above). The head is always
    named in `modules_to_save`, so a freshly initialised classifier is trained and saved with the adapter.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    register_peft_target_modules()
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    config = LoraConfig(
        task_type=TaskType(peft_task_type) if peft_task_type else None,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        modules_to_save=[m for m in head_modules if m in names] or None,
    )
    return get_peft_model(model, config)
