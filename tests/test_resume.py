"""Re-running a pretraining command: resume only from what is readable, never a silent fresh optimizer, and a
finished run is left as it is. Tiny runs on the template corpus of test_pretraining."""

import hashlib
import json

import pytest
from test_pretraining import corpus, parse, run_args  # noqa: F401  (`corpus` is a module fixture)

from seedformer.pretraining.run import pretrain
from seedformer.training.resume import check_resumable, last_complete_checkpoint

TRAIN = ["--do_train", "--max_steps", "6", "--save_steps", "3", "--logging_steps", "1"]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def checkpoints(out):
    return sorted(p.name for p in out.iterdir() if p.name.startswith("checkpoint-"))


@pytest.fixture
def finished_run(corpus, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    metrics = pretrain(*parse(run_args(corpus, out, *TRAIN)))
    assert metrics["global_step"] == 6 and checkpoints(out) == ["checkpoint-3", "checkpoint-6"]
    return out


@pytest.mark.slow
def test_rerunning_a_finished_run_is_a_no_op(corpus, finished_run):  # noqa: F811
    weights = digest(finished_run / "model.safetensors")
    for _ in range(2):  # before the fix, each re-run trained one more step (checkpoint-7, checkpoint-8)
        metrics = pretrain(*parse(run_args(corpus, finished_run, *TRAIN)))
        assert metrics["global_step"] == 6
    assert checkpoints(finished_run) == ["checkpoint-3", "checkpoint-6"]
    assert digest(finished_run / "model.safetensors") == weights
    # A larger budget continues from the last checkpoint.
    more = [*TRAIN[:2], "8", *TRAIN[3:]]
    assert pretrain(*parse(run_args(corpus, finished_run, *more)))["global_step"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty_state", "half_written_state", "truncated_weights", "missing_weights"])
def test_unreadable_newest_checkpoint_falls_back_to_the_previous_one(corpus, finished_run, damage):  # noqa: F811
    newest = finished_run / "checkpoint-6"
    if damage == "empty_state":
        (newest / "trainer_state.json").write_text("")
    elif damage == "half_written_state":
        text = (newest / "trainer_state.json").read_text()
        (newest / "trainer_state.json").write_text(text[: len(text) // 2])
    elif damage == "truncated_weights":
        data = (newest / "model.safetensors").read_bytes()
        (newest / "model.safetensors").write_bytes(data[:100])
    else:
        (newest / "model.safetensors").unlink()
    # The run was killed during its last save: the final model in output_dir was never written.
    for name in ("model.safetensors", "trainer_state.json"):
        (finished_run / name).unlink()
    assert last_complete_checkpoint(finished_run) == str(finished_run / "checkpoint-3")
    metrics = pretrain(*parse(run_args(corpus, finished_run, *TRAIN)))  # same command again
    assert metrics["global_step"] == 6
    assert json.loads((finished_run / "trainer_state.json").read_text())["global_step"] == 6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt"])
def test_missing_or_truncated_optimizer_state_is_refused_with_the_file_named(corpus, finished_run, name):  # noqa: F811
    checkpoint = finished_run / "checkpoint-3"
    more = [*TRAIN[:2], "9", *TRAIN[3:], "--resume_from_checkpoint", str(checkpoint)]
    data = (checkpoint / name).read_bytes()
    (checkpoint / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{name} is truncated"):
        pretrain(*parse(run_args(corpus, finished_run, *more)))
    (checkpoint / name).unlink()
    with pytest.raises(ValueError, match=rf"{name} is missing.*--model_name_or_path"):
        check_resumable(checkpoint)
    with pytest.raises(ValueError, match=rf"{name} is missing"):
        pretrain(*parse(run_args(corpus, finished_run, *more)))


@pytest.mark.slow
def test_a_run_with_nothing_to_do_fails(corpus, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="--do_train"):
        pretrain(*parse(run_args(corpus, tmp_path / "nothing")))
