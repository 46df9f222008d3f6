"""LoRA through peft on Seedformer: default target lookup, adapter save/load, merged checkpoint parity."""

import json
import subprocess
import sys

import pytest
import torch
from _finetuning_helpers import TRAIN_FLAGS, load_script, save_checkpoint, sentiment_rows, write_jsonl
from conftest import tiny_config
from packaging.version import Version
from peft import AutoPeftModelForSequenceClassification, LoraConfig, PeftModel, TaskType, get_peft_model
from peft import __version__ as peft_version
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, pipeline
from transformers.integrations.peft import MIN_PEFT_VERSION

from seedformer import SeedformerForSequenceClassification, SeedformerForTokenClassification
from seedformer.finetuning.lora import SEEDFORMER_LORA_TARGET_MODULES, apply_lora


def test_documented_default_targets_cover_attention_and_feed_forward():
    # the explicit default a user passes to stock peft (apply_lora passes the same)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=4, target_modules=list(SEEDFORMER_LORA_TARGET_MODULES))
    model = get_peft_model(SeedformerForSequenceClassification(tiny_config()), config)
    lora_modules = {name for name, module in model.named_modules() if hasattr(module, "lora_A")}
    for layer in range(2):
        for proj in ("attention.qkv", "attention.out_proj", "feed_forward.up_proj", "feed_forward.down_proj"):
            assert any(name.endswith(f"layers.{layer}.{proj}") for name in lora_modules), proj
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name or "classifier" in name for name in trainable)
    assert set(apply_lora(SeedformerForSequenceClassification(tiny_config()), "SEQ_CLS").peft_config[
        "default"].target_modules) == set(SEEDFORMER_LORA_TARGET_MODULES)  # fmt: skip


@pytest.mark.slow
def test_import_seedformer_neither_imports_peft_nor_edits_its_table():
    """`import seedformer` registers configs, models, tokenizers and pipelines only (fresh interpreter)."""
    code = (
        "import sys, seedformer\n"
        "assert not [m for m in sys.modules if m == 'peft' or m.startswith('peft.')], 'peft imported'\n"
        "from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as table\n"
        "assert 'seedformer' not in table, table.get('seedformer')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_lora_default_for_other_models_is_peft_own():
    """A BERT model keeps peft's default (`query`, `value`): Seedformer's names would match nothing there."""
    from transformers import BertConfig, BertForSequenceClassification

    bert = BertForSequenceClassification(BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1,
                                                    num_attention_heads=4, intermediate_size=37))  # fmt: skip
    model = apply_lora(bert, "SEQ_CLS", ("classifier",), r=2)
    assert set(model.peft_config["default"].target_modules) == {"query", "value"}


def test_apply_lora_trains_head_in_full_for_token_classification():
    model = apply_lora(SeedformerForTokenClassification(tiny_config(num_labels=5)), "TOKEN_CLS", ("classifier",), r=2)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any("classifier.modules_to_save" in name for name in trainable)
    assert not any("base_layer" in name for name in trainable)


@pytest.mark.slow
def test_finetune_with_lora_saves_loadable_adapter_and_matching_merge(tmp_path):
    base = save_checkpoint(tmp_path / "base")
    rows = sentiment_rows(48, seed=1)
    for row in rows[::3]:  # three labels, so the base checkpoint's default 2-label config would not fit the head
        row["label"] = "neutral"
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    results = load_script("finetune").main(
        [
            "--task",
            "text-classification",
            "--model_name_or_path",
            str(base),
            "--train_file",
            str(train),
            "--validation_split_percentage",
            "25",
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--num_train_epochs",
            "2",
            "--learning_rate",
            "1e-2",
            "--save_strategy",
            "no",
            "--use_lora",
            "--lora_r",
            "4",
            "--merge_lora",
            *TRAIN_FLAGS,
        ]
    )
    assert "eval_accuracy" in results and results["merged_model"] == str(out / "merged")
    adapter = load_file(out / "adapter_model.safetensors")
    assert any("lora_B" in k for k in adapter) and any("classifier" in k for k in adapter)
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)  # the adapters were trained
    # a pure adapter folder whose base is the base checkpoint with this task's head config (the labels)
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str((out / "base").resolve())
    assert not (out / "config.json").exists()
    labels = {0: "neg", 1: "neutral", 2: "pos"}
    assert AutoConfig.from_pretrained(out / "base").id2label == labels

    # the in-memory adapter model's probabilities on the validation split, written by the run
    records = [json.loads(line) for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    expected = torch.tensor([r["probabilities"] for r in records])
    tokenizer = AutoTokenizer.from_pretrained(out)
    batch = tokenizer([r["text"] for r in records], padding=True, return_tensors="pt")
    with torch.no_grad():
        loaded = {
            # the stock one-liners, no num_labels / id2label
            "peft": AutoPeftModelForSequenceClassification.from_pretrained(out).eval(),
            "transformers": AutoModelForSequenceClassification.from_pretrained(out).eval(),  # its peft integration
            "merged": AutoModelForSequenceClassification.from_pretrained(out / "merged").eval(),
        }
        for name, model in loaded.items():
            assert model.config.id2label == labels, name
            torch.testing.assert_close(model(**batch).logits.softmax(-1), expected, atol=1e-5, rtol=0, msg=name)
    assert isinstance(loaded["peft"], PeftModel) and loaded["transformers"]._hf_peft_config_loaded
    # the README's advice: continue and save an adapter through peft, which works with every transformers allowed
    loaded["peft"].save_pretrained(tmp_path / "resaved")
    resaved = AutoPeftModelForSequenceClassification.from_pretrained(tmp_path / "resaved").eval()
    with torch.no_grad():
        torch.testing.assert_close(resaved(**batch).logits.softmax(-1), expected, atol=1e-5, rtol=0)
    # ...because transformers' own adapter methods require the peft its integration names (5.24: 0.22, unreleased)
    if Version(peft_version) >= Version(MIN_PEFT_VERSION):
        assert loaded["transformers"].active_adapters() == ["default"]
    else:
        with pytest.raises(ValueError, match=f"version >= {MIN_PEFT_VERSION}"):
            loaded["transformers"].active_adapters()
    # adapter training leaves the base weights as they were; merging changes them
    base_qkv = load_file(base / "model.safetensors")["layers.0.attention.qkv.weight"]
    layer = loaded["peft"].get_base_model().seedformer.layers[0].attention.qkv
    torch.testing.assert_close(layer.base_layer.weight, base_qkv)
    merged = loaded["merged"]
    assert not torch.allclose(merged.seedformer.layers[0].attention.qkv.weight, base_qkv)
    assert type(merged).__name__ == "SeedformerForSequenceClassification"
    assert not any("lora" in k for k in load_file(out / "merged" / "model.safetensors"))
    for folder in (out, out / "merged"):  # the adapter folder serves as is, too
        classify = pipeline("text-classification", model=str(folder))
        assert classify("good film")[0]["label"] in set(labels.values())
