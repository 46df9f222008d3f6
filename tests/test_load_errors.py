"""Errors on loading and resuming name the file at fault (issue 14 item 12): a missing weight shard is not reported
as "no safetensors weights, pass allow_pickle", and a truncated weights / optimizer file on a finetuning resume is
named instead of surfacing as torch's or safetensors' anonymous error."""

import shutil

import pytest
from _finetuning_helpers import TRAIN_FLAGS, load_script, save_checkpoint, sentiment_rows, write_jsonl
from conftest import tiny_config

from seedformer import SeedformerForMaskedLM


def test_missing_shard_is_named_and_not_blamed_on_pickle(tmp_path):
    SeedformerForMaskedLM(tiny_config()).save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*-of-*.safetensors"))
    assert len(shards) > 2
    (tmp_path / shards[1]).unlink()
    # transformers names the missing shard (FileNotFoundError, an OSError); Seedformer must not turn it into advice
    # about pickle, which is beside the point when the safetensors index is there.
    with pytest.raises(OSError, match=rf"{shards[1]}") as info:
        SeedformerForMaskedLM.from_pretrained(tmp_path)
    assert "pickle" not in str(info.value)


def test_no_weights_at_all_names_the_file_without_pickle_advice(tmp_path):
    SeedformerForMaskedLM(tiny_config()).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(OSError, match=r"model\.safetensors") as info:
        SeedformerForMaskedLM.from_pretrained(tmp_path)
    assert "allow_pickle" not in str(info.value)  # nothing pickled is there either


@pytest.fixture(scope="module")
def finetune_checkpoint(tmp_path_factory):
    """A finetuning run that saved checkpoint-4 (weights, optimizer, scheduler, trainer state)."""
    root = tmp_path_factory.mktemp("resume")
    base = save_checkpoint(root / "base")
    train = write_jsonl(root / "train.jsonl", sentiment_rows(16, seed=1))
    argv = ["--task", "text-classification", "--model_name_or_path", str(base), "--train_file", str(train),
            "--do_train", "--max_steps", "4", "--save_steps", "4", *TRAIN_FLAGS]  # fmt: skip
    load_script("finetune").main([*argv, "--output_dir", str(root / "out")])
    assert (root / "out" / "checkpoint-4" / "optimizer.pt").is_file()
    return argv, root / "out" / "checkpoint-4"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "model.safetensors"])
def test_finetune_resume_names_a_truncated_file(finetune_checkpoint, tmp_path, name):
    argv, checkpoint = finetune_checkpoint
    damaged = tmp_path / "checkpoint-4"
    shutil.copytree(checkpoint, damaged)
    data = (damaged / name).read_bytes()
    (damaged / name).write_bytes(data[: len(data) // 2])
    more = [*argv, "--output_dir", str(tmp_path / "out"), "--max_steps", "6", "--resume_from_checkpoint", str(damaged)]
    with pytest.raises(ValueError, match=rf"{damaged / name} is (truncated|not a readable safetensors file)"):
        load_script("finetune").main(more)
